#!/usr/bin/env bash
# The GPU check on a machine with a CUDA GPU and no network: `bash tools/gpu_check.sh [OUT] [gpu_check flags]`.
# It uses the machine's own torch (CUDA build) and, with WHEELS=folder, installs the pinned pure-Python wheels
# from that folder first (made on a networked machine, see README "GPU check"): they go to a folder of their own
# (SITE, default /tmp/gpu-check-site) that is put first on PYTHONPATH, so the machine's packages stay as they are.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu_check_output}
shift || true
if [ -n "${WHEELS:-}" ]; then
  site=${SITE:-/tmp/gpu-check-site}
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    "$WHEELS"/*.whl || { echo "gpu-check: installing the wheels in $WHEELS failed" >&2; exit 2; }
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -m tools.gpu_check --out "$out" "$@"
