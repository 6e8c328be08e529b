"""Progress on a terminal, silence in a pipe or a log."""
from __future__ import annotations

import sys
import time


class Progress:
    """A one-line bar on stderr, drawn only when stderr is a terminal, at most 10 times a second."""

    def __init__(self, label: str, unit: str = "", stream=None, enabled: bool | None = None):
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        if self.unit == "B":
            amount = f"{done / 2**20:.0f}/{total / 2**20:.0f} MiB"
        else:
            amount = f"{done}/{total}{self.unit}"
        self.stream.write(f"\r{self.label} [{bar:<30}] {amount}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


def load_net_with_progress(prototxt, caffemodel=None, *, batch=None, warn=True):
    """load_net with a bar on a terminal while the caffemodel is read (the commands' way to load);
    weights that are not finite numbers are warned about on stderr, one line per layer."""
    from .loader import load_net

    bar = Progress("reading caffemodel", unit="B")
    try:
        net = load_net(prototxt, caffemodel, batch=batch, progress=bar)
    finally:
        bar.close()
    if warn:
        for line in net.warnings[:MAX_WARNINGS]:
            print(f"warning: {line}", file=sys.stderr)
        if len(net.warnings) > MAX_WARNINGS:
            print(f"warning: and {len(net.warnings) - MAX_WARNINGS} more layers with weights that are not finite", file=sys.stderr)
    return net


MAX_WARNINGS = 10
