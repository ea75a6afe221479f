#!/usr/bin/env bash
# The GPU check: one prepared command for an NVIDIA GPU machine (made for the project's H200 lease: Python 3.12 with
# numba, numba-cuda, CuPy for CUDA 13, PyTorch with CUDA, Cython; no network). It installs minidl there, runs the
# cuda tests on the real GPU at full size, a one-epoch LeNet-5 MNIST run on the GPU (MNIST from data/mnist), and the
# GPU benchmarks when the suite exists, and writes every result under $OUT. Budget: at most 8 minutes.
#
#   bash benchmarks/gpu_check.sh            # $OUT defaults to ./gpu_check_out
#
# Python packages the machine lacks (tqdm, matplotlib, Pillow, pytest, hypothesis, safetensors...) come from a
# folder of wheels carried with the checkout, .whl/ (pip download --python-version 3.12 --only-binary=:all: -d .whl
# ...), installed without the network.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MINIDL_CUDA_TESTS=gpu NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)" | tee -a "$OUT/summary.txt"; }

step "machine"
{ nvidia-smi; python3 --version; python3 -c "import numba, numba.cuda, cupy; print('numba', numba.__version__, \
'cuda', numba.cuda.implementation, 'cupy', cupy.__version__)"; } > "$OUT/machine.txt" 2>&1

step "install"
python3 -m venv --system-site-packages /tmp/minidl-venv && . /tmp/minidl-venv/bin/activate
if [ -d .whl ]; then pip install -q --no-index --find-links .whl .whl/*.whl > "$OUT/install.log" 2>&1; fi
pip install -q --no-index --no-build-isolation --no-deps -e . >> "$OUT/install.log" 2>&1 || { step "install failed"; exit 1; }

step "cuda tests on the GPU"
timeout 240 python -m pytest -q -x tests/test_cuda_device.py tests/kernels/test_kernel_arguments.py \
  tests/kernels/test_cuda_*.py -k "cuda or device or zoo" 2>&1 | tail -n 60 > "$OUT/tests.txt"
step "tests: $(tail -n 1 "$OUT/tests.txt")"

step "LeNet-5, one MNIST epoch on the GPU"
timeout 150 python examples/lenet_mnist.py --device cuda --epochs 1 --no-progress --out /tmp/lenet_gpu \
  > "$OUT/lenet.txt" 2>&1
step "lenet: $(grep -E '^Test accuracy|^Wall time' "$OUT/lenet.txt" | tr '\n' ' ')"

if python -c "import benchmarks.gpu" 2> /dev/null; then
  step "GPU benchmarks"
  timeout 150 python -m benchmarks gpu --out "$OUT" > "$OUT/benchmarks.txt" 2>&1
fi
step "done"
