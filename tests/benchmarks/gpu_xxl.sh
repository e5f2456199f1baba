#!/usr/bin/env bash
# Issue 13's lent-GPU run: the full XXL at random weights, every placement, results under $OUT.
# On the device machine (system python3 with torch, transformers, safetensors, pyyaml; no PyAV):
#     bash tests/benchmarks/gpu_xxl.sh
# A second call resumes: the weights and the finished cases stay in /tmp/gpu_xxl while the
# machine is warm. Then, here: .venv/bin/python tests/benchmarks/gpu_xxl_collect.py DIR --refit
set -euo pipefail
OUT="${OUT:-/tmp/gpu_xxl/out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/nvidia-smi.csv" || true
python3 tests/benchmarks/gpu_xxl.py --size xxl --device cuda --work /tmp/gpu_xxl --out "$OUT" \
    --budget-s "${BUDGET_S:-540}" "$@" 2>&1 | tee "$OUT/log.txt"
