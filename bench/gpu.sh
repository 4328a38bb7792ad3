#!/usr/bin/env bash
# The whole GPU measurement in one command: no network (a GPU machine may have none), under 8 minutes on an H100.
#   bash bench/gpu.sh PATH/TO/cifar10-jpg-train.tar.gz [--smoke]
# Each section runs in its own process under its own timeout, most valuable first; a failed or
# timed-out section is recorded in failures.jsonl and the next one runs. JSON lines go to
# $OUT_DIR (default $OUT, else a new artifacts/bench/gpu-TIME) as they are made: runs.jsonl (every training run),
# sections.jsonl (each section's summary), log.txt (stderr); the last line on stdout is ONE JSON
# summary (also summary.json). --smoke runs every section at tiny size on the CPU (a few minutes on
# an idle machine), all but compile (a CPU compile takes minutes; compile=True is a one-line path).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash bench/gpu.sh PATH/TO/cifar10-jpg-train.tar.gz [--smoke]}
SMOKE=${2:-}
OUT_DIR=${OUT_DIR:-${OUT:-artifacts/bench/gpu-$(date +%Y%m%d-%H%M%S)}}  # $OUT: a device run's folder
BUDGET_S=${GPU_BENCH_BUDGET_S:-450}  # all sections together; the summary needs a few seconds more
mkdir -p "$OUT_DIR"
# the decoded-image cache outside $OUT_DIR (only a few files come back from a device run)
export CIFAR_EXPLORER_CACHE=${CIFAR_EXPLORER_CACHE:-${TMPDIR:-/tmp}/cifar-explorer-cache}
# a machine without py7zr/platformdirs (the GPU image) still imports the data package: stand-ins
# that refuse .7z archives; the tarball path never needs them
if ! python3 -c "import py7zr, platformdirs" 2>/dev/null; then
  export PYTHONPATH="$PWD/bench/offline_stubs${PYTHONPATH:+:$PYTHONPATH}"
fi
# the package itself: installed editable (offline, nothing fetched), else importable from this folder
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# record: the public records and airbench_gpu's cold and warm runs side by side (the muon record
# compiles for tens of seconds first). The limits up to ablation_gpu add up to BUDGET_S; the
# sections after it run on what those leave unused (each limit is cut to what is left of the budget).
if [ "$SMOKE" = "--smoke" ]; then
  SECTION_LIMITS="env:240 record:240 ablation_fast_wide:240 preset_epochs:240 ablation_gpu:240 study_cnn_speed:240 mobilenet:240 study_cnn_100:240 compile:5"
else
  SECTION_LIMITS="env:35 record:190 ablation_fast_wide:90 preset_epochs:45 ablation_gpu:90 study_cnn_speed:25 mobilenet:40 study_cnn_100:150 compile:180"
fi
START=$(date +%s)
for entry in $SECTION_LIMITS; do
  section=${entry%%:*}
  limit=${entry##*:}
  left=$((BUDGET_S - ($(date +%s) - START)))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 15 ]; then
    echo "{\"section\": \"$section\", \"status\": \"skipped\", \"why\": \"time budget spent\"}" >>"$OUT_DIR/failures.jsonl"
    continue
  fi
  echo "== $section (up to ${limit}s)" | tee -a "$OUT_DIR/log.txt" >&2
  timeout -k 5 "$limit" python3 bench/gpu_bench.py "$section" --data "$DATA" --out "$OUT_DIR" --seconds "$limit" $SMOKE 2>>"$OUT_DIR/log.txt"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    status=failed; [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status=timeout
    echo "{\"section\": \"$section\", \"status\": \"$status\", \"rc\": $rc, \"limit_s\": $limit}" >>"$OUT_DIR/failures.jsonl"
    tail -n 5 "$OUT_DIR/log.txt" >&2
  fi
done
python3 bench/gpu_summary.py "$OUT_DIR"
