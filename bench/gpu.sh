#!/usr/bin/env bash
# The whole GPU measurement in one command (target: under 8 minutes, nothing downloaded):
# augmentation throughput, seconds per epoch of each model, and time to 94% for the fast_wide
# recipe over 5 seeds beside the study's CNN. JSON lines go to stdout and to $OUT_DIR.
#   bash bench/gpu.sh [path/to/cifar10-jpg-train.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/cifar10-jpg-train.tar.gz}
OUT_DIR=${OUT_DIR:-artifacts/bench}
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT_DIR/gpu.txt"
python3 bench/augment_speed.py --device cuda --device cpu | tee "$OUT_DIR/augment_speed.json"
python3 bench/epoch_time.py --data "$DATA" --device cuda --mobilenet-steps 20 | tee "$OUT_DIR/epoch_time.json"
python3 bench/time_to_accuracy.py --data "$DATA" --device cuda --recipe fast_wide --seeds 0,1,2,3,4 \
  --targets 0.83,0.90,0.93,0.94 --compare study_cnn --compare-epochs 20 | tee "$OUT_DIR/time_to_accuracy.json"
