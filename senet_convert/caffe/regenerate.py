"""Regenerate caffe_pb2.py from protos/caffe.proto:

    python -m senet_convert.caffe.regenerate        (needs grpcio-tools: pip install -e '.[test]')
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROTO = REPO / "protos" / "caffe.proto"
OUT = Path(__file__).resolve().parent


def compile_proto(out_dir: Path, descriptor_set: Path | None = None) -> None:
    from grpc_tools import protoc

    args = ["protoc", f"-I{PROTO.parent}", f"--python_out={out_dir}"]
    if descriptor_set is not None:
        args.append(f"--descriptor_set_out={descriptor_set}")
    if protoc.main([*args, str(PROTO)]) != 0:
        raise SystemExit(f"protoc failed on {PROTO}")


if __name__ == "__main__":
    compile_proto(OUT)
    print(f"wrote {OUT / 'caffe_pb2.py'}", file=sys.stderr)
