#!/usr/bin/env bash
# The augmentation ablation at full size on a GPU (target: under 8 minutes, nothing downloaded):
# the named study `ablation` (fast recipe, the four study augmentations at p = 0.5) on all 50,000
# images (40,000 train / 10,000 validation), 10 epochs, 5 seeds, seed by seed. New runs stop
# starting after 7.5 minutes, so a slower card still returns whole seeds. Progress goes to stderr;
# the last stdout line is JSON (runs finished, wall time, card, the computed conclusion).
#   bash bench/gpu_study.sh path/to/cifar10-jpg-train.tar.gz [OUT_DIR]
# The published folder (results.csv, curves.json, study.json, command.txt) lands in OUT_DIR/ablation.
set -euo pipefail
DATA=${1:?usage: bash bench/gpu_study.sh DATA_PATH [OUT_DIR]}
OUT_DIR=${2:-artifacts/gpu_study}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
python3 "$ROOT/scripts/publish_study.py" ablation --data "$DATA" --device "${DEVICE:-cuda}" \
  --limit "${LIMIT:-50000}" --epochs "${EPOCHS:-10}" --seeds "${SEEDS:-5}" --stop-after-minutes "${STOP_AFTER:-7.5}" \
  --runs-root "$OUT_DIR/runs" --out "$OUT_DIR/ablation"
