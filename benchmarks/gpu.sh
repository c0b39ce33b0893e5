#!/usr/bin/env bash
# Everything initopt measures or checks on a GPU, in one call of the device tool, tables under $OUT:
#   PYTHONPATH=src bash benchmarks/gpu.sh
# The device image has torch, triton, rich, typer, matplotlib, scikit-learn, pandas and pytest, and no
# network: the suites below need nothing else. Each step goes on when an earlier one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}

{ nvidia-smi; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"; date -u; } \
    > "$OUT/machine.txt" 2>&1

# the CUDA tests of the init schemes and optimizers (skipped on the CPU) and the rest of their suites
python3 -m pytest -q -p no:cacheprovider tests/init tests/optim > "$OUT/tests-init-optim.txt" 2>&1
echo "tests: $(tail -n 1 "$OUT/tests-init-optim.txt")"

# studies: K=512 configurations of the default study's model, plain loop vs bundled engine, on the GPU
python3 benchmarks/study_throughput.py --device cuda --k 512 --epochs 10 --sample 4 > "$OUT/study_throughput_cuda_k512.txt" 2>&1
python3 benchmarks/study_throughput.py --device cuda --k 64 --epochs 10 --sample 4 > "$OUT/study_throughput_cuda_k64.txt" 2>&1
tail -n 3 "$OUT"/study_throughput_cuda_*.txt
