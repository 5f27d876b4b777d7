#!/bin/bash
# The device command of a GPU phase of the default's campaign (docs/gpu-campaign.md says when and how):
#   bash benchmarks/campaign/gpu/gpu_train.sh [gpu_train.py options, e.g. --batch 256 --lr 4e-3]
# in the repository root, with the pack of pack_faces.py carried (.campaign-gpu). Installs the wheels in
# .campaign-gpu/whl if any (the device has no registry), then trains until 8.5 minutes after its start and
# leaves last.ckpt, metrics.jsonl, recipe.yaml, gpu-summary.json and train.log in $OUT.
set -uo pipefail
START=$(date +%s)
: "${OUT:=/tmp/out}"
PACK=${PACK:-.campaign-gpu}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
if compgen -G "$PACK/whl/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$PACK"/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" benchmarks/campaign/gpu/gpu_train.py --pack "$PACK" --out "$OUT" --start "$START" "$@" 2>&1 \
  | tee "$OUT/train.log"
