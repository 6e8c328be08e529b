"""SIGTERM and SIGHUP end a command as Ctrl-C does: as an exception, so that every `finally` runs
and an interrupted job leaves neither a staging folder nor a temporary file behind (Python's
default for SIGTERM is to die at once, cleaning nothing). SIGKILL cannot be caught: the next job
writing to the same folder sweeps what it left (files.sweep_staging).
"""
from __future__ import annotations

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """A termination signal, handled as an interrupt; `status` is the shell's 128 + signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum


def _raise(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM and SIGHUP raise Terminated; the earlier handlers come back after."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    saved = {signum: signal.signal(signum, _raise) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
