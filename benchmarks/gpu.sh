#!/usr/bin/env bash
# Everything initopt measures or checks on a GPU, in one call of the device tool, tables under $OUT:
#   PYTHONPATH=src bash benchmarks/gpu.sh
# The device image has torch, triton, rich, typer, matplotlib, scikit-learn, pandas and pytest, and no
# network: the suites below need nothing else. Each step goes on when an earlier one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

{ nvidia-smi; python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, torch.cuda.get_device_name(0))"; date -u; } \
    > "$OUT/machine.txt" 2>&1

# the CUDA tests: Triton kernels compiled on the GPU (against their reference, torch.optim, float64,
# a CUDA-graph replay), the batched optimizer, the engine's CUDA-graph epochs against eager ones
python3 -m pytest -q -p no:cacheprovider tests/init tests/optim tests/study/test_engines.py > "$OUT/tests-gpu.txt" 2>&1
echo "tests: $(tail -n 1 "$OUT/tests-gpu.txt")"

# the optimizer step: PyTorch for-loop / foreach / fused against initopt (floors: >= 1.25x fused in
# float32, >= 1.7x with bfloat16 state, >= 1x on many-small)
python3 benchmarks/optim_step.py --device cuda --shapes gpt2-124m,gpt2-350m,many-small > "$OUT/optim_step_cuda.txt" 2>&1
cat "$OUT/optim_step_cuda.txt"

# studies: the default study's model, plain loop vs bundled engine (CUDA graphs of whole epochs);
# floor: K=512 x 10 epochs in <= 0.25 s (the "epochs" line: steps and evaluation; setup is printed apart),
# >= 500x the plain loop
python3 benchmarks/study_throughput.py --device cuda --k 512 --epochs 10 --sample 4 > "$OUT/study_throughput_cuda_k512.txt" 2>&1
python3 benchmarks/study_throughput.py --device cuda --k 64 --epochs 10 --sample 4 > "$OUT/study_throughput_cuda_k64.txt" 2>&1
tail -n 4 "$OUT"/study_throughput_cuda_*.txt
