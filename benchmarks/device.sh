#!/usr/bin/env bash
# Every GPU check of the project in one command, for a session lent a GPU machine (the device tool:
# about 15 minutes per session, one command of at most 10, a bare machine with torch and timm).
#
# Prepare once, here, from the repo root (both folders are git-ignored):
#   mkdir -p shared && cp -r ../shared/senet ../shared/goldens shared/      # a shared/ in the checkout travels
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl 'protobuf==7.36.2'         # the bindings need protobuf >= 7.35
# Then one call of the device tool: command "bash benchmarks/device.sh", carry [".whl", "shared"], timeout_s 600.
#
# In order, each under the time left of a 570 s deadline:
#   1. pytest -k cuda       the CUDA tests (verify on CUDA, TF32 row), skipped on CPU-only CI
#   2. benchmarks/gpu.py    the speed table: exact, optimized and timm, fp32 / TF32 / bf16-cl / compiled
#   3. cuda_verify.py       verify on CUDA at batch 8 for the seven architectures, as time allows
# Everything printed also lands in $OUT (env.txt, pytest_cuda.txt, gpu.txt, cuda_verify.txt).
set -uo pipefail
deadline=$((SECONDS + 570))
left() { echo $((deadline - SECONDS - $1)); }
OUT=${OUT:-/tmp/senet-device-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" SENET_SHARED="$PWD/shared" SENET_BENCH_CACHE=/tmp/senet-bench-cache
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
[ -f shared/goldens/synthetic.py ] || { echo "shared/ is missing: see the top of $0"; exit 2; }

python3 - <<'EOF' 2>&1 | tee "$OUT/env.txt"
import google.protobuf, numpy, onnxruntime, torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
try:
    import timm
    print(f"timm {timm.__version__}", end=", ")
except ImportError:
    print("timm missing", end=", ")
print(f"protobuf {google.protobuf.__version__}, numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__}")
import senet_convert.caffe.caffe_pb2  # fails here, clearly, if protobuf is too old for the bindings
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2

timeout "$(left 480)" python3 -m pytest -q -p no:cacheprovider -k cuda tests 2>&1 | tee "$OUT/pytest_cuda.txt" | tail -5
timeout "$(left 90)" python3 benchmarks/gpu.py --budget "$(left 180)" 2>&1 | tee "$OUT/gpu.txt"
timeout "$(left 5)" python3 benchmarks/cuda_verify.py --budget "$(left 40)" 2>&1 | tee "$OUT/cuda_verify.txt"
echo "device.sh: done with $((deadline - SECONDS)) s of the deadline left"
