#!/usr/bin/env bash
# Everything initopt measures or checks on a GPU, in one call of the device tool, tables under $OUT:
#   PYTHONPATH=src bash benchmarks/gpu.sh            (about 8 minutes on an H100)
# The device image has torch, triton, rich, typer, matplotlib, scikit-learn, pandas, pytest and
# pytest-xdist, and no network: the suites below need nothing else. Each step has its own time limit
# and the next one runs when an earlier one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# packages the image lacks (mnist1d, for one engine test), carried as wheels: see docs/benchmarks.md
if ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi

{ nvidia-smi; python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, torch.cuda.get_device_name(0))"; date -u; } \
    > "$OUT/machine.txt" 2>&1

# the optimizer step: PyTorch for-loop / foreach / fused against initopt (floors: >= 1.25x fused in
# float32, >= 1.7x with bfloat16 state, >= 1x on many-small)
timeout 150 python3 benchmarks/optim_step.py --device cuda --shapes gpt2-124m,gpt2-350m,many-small --repeat 20 \
    > "$OUT/optim_step_cuda.txt" 2>&1

# the kernel's launch shape (elements per program x warps), float32 and bfloat16 state, and a flat buffer
timeout 120 python3 benchmarks/optim_tune.py --shapes gpt2-124m --blocks 1024,2048,4096 --warps 4,8 > "$OUT/optim_tune_cuda.txt" 2>&1

# studies: the default study's model, plain loop vs bundled engine (CUDA graphs of whole epochs);
# floor: K=512 x 10 epochs in <= 0.25 s (the "epochs" line: steps and evaluation; setup is printed apart),
# >= 500x the plain loop. Then where a K=512 bundle's time goes (epoch times, device kernels).
{ timeout 100 python3 benchmarks/study_throughput.py --device cuda --k 512 --epochs 10 --sample 4
  timeout 60 python3 benchmarks/study_throughput.py --device cuda --k 64 --epochs 10 --sample 4
  timeout 60 python3 benchmarks/study_profile.py --device cuda --k 512 --epochs 5 --rows 30; } \
    > "$OUT/study_cuda.txt" 2>&1

# studies of real models (bundled layers): each workload of the architectures issue at K=256, plain loop
# vs bundled engine (eager: CUDA graphs capture only hand-batched MLP bundles so far)
for workload in mnist1d-cnn cnn2d transformer mf; do
    timeout 90 python3 benchmarks/study_throughput.py --workload $workload --device cuda --k 256 --sample 2
done > "$OUT/study_models_cuda.txt" 2>&1

# the main job as a user runs it, on the GPU: the default study (240 configurations x 10 epochs) into a
# fresh SQLite file, with its HTML report; and the bench command
TIMEFORMAT="initopt study run: %R s wall"
{ rm -f /tmp/gpu_study.db; time timeout 120 python3 -m initopt study run --device cuda --db /tmp/gpu_study.db \
      --report /tmp/gpu_study.html
  timeout 60 python3 -m initopt bench optim --device cuda --shapes tiny; } > "$OUT/cli_cuda.txt" 2>&1

# the CUDA tests: Triton kernels compiled on the GPU (against their reference, torch.optim, float64,
# a CUDA-graph replay), the batched optimizer, the engine's CUDA-graph epochs against eager ones
timeout 200 python3 -m pytest -q -p no:cacheprovider -n 8 tests/init tests/optim tests/training tests/study/test_engines.py \
    tests/study/test_engines_models.py tests/study/bundled \
    > "$OUT/tests_gpu.txt" 2>&1

cat "$OUT/optim_step_cuda.txt" "$OUT/optim_tune_cuda.txt"
grep -E "^(study throughput|plain|initopt|  of which|ratio|K=)" "$OUT/study_cuda.txt" "$OUT/study_models_cuda.txt"
tail -n 6 "$OUT/cli_cuda.txt"
echo "tests: $(tail -n 1 "$OUT/tests_gpu.txt")"
