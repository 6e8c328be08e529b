"""Loader benchmark: read a SENet-154-sized caffemodel (synthetic weights, ~461 MB).

    python benchmarks/load.py

Targets: wall time <= 2x the time to read the file's bytes; peak RSS above the
interpreter's baseline <= 1.5x the file size.
"""
from __future__ import annotations

from common import caffemodel, measure


def main() -> None:
    prototxt, model = caffemodel("SENet-154")
    size_mib = model.stat().st_size / 2**20
    read = measure("", f"data = open({str(model)!r}, 'rb').read()")
    load = measure(
        "from senet_convert.loader import load_net",
        f"net = load_net({str(prototxt)!r}, {str(model)!r})",
    )
    print(f"file: {model.name}, {size_mib:.0f} MiB (page cache warm; median of 3 fresh processes)")
    print(f"{'step':<28}{'wall s':>8}{'peak RSS above base, MiB':>27}{'x file':>8}")
    for name, r in (("read the bytes (open.read)", read), ("load_net (prototxt+model)", load)):
        print(f"{name:<28}{r['wall_s']:>8.3f}{r['peak_above_base_mib']:>27.0f}{r['peak_above_base_mib'] / size_mib:>8.2f}")
    print(f"load / read wall time: {load['wall_s'] / read['wall_s']:.2f}x (target <= 2x)")
    print(f"load peak RSS / file size: {load['peak_above_base_mib'] / size_mib:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
