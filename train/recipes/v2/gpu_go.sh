#!/bin/bash
# On the GPU machine: install the carried wheels, run every issue-12 run side by side until DEADLINE s,
# pack each run's best generator + log + loss curve + samples into $OUT. Usage: gpu_go.sh STEPS DEADLINE
STEPS=$1; DEADLINE=$2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . >/dev/null 2>&1 || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
ln -sfn "$PWD/.gpudata/shared" ../shared
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
python3 -c "import torch, kornia, timm; print(torch.__version__, kornia.__version__, timm.__version__, torch.cuda.is_available())"
mkdir -p runs/v2
for r in ${RUNS:-main nohints half quarter clean gan lite0}; do
  timeout "$DEADLINE" python3 train/recipes/v2/gpu_runs.py "$r" "$STEPS" > "runs/v2/$r.log" 2>&1 &
done
wait
for r in ${RUNS:-main nohints half quarter clean gan lite0}; do
  echo "== $r"; tail -3 "runs/v2/$r.log"; grep '"val"' "runs/v2/$r/log.jsonl" | tail -2
done
# What comes back: one tar of logs, and each best generator as fp16 (8 files, 64 MiB at most).
tar -C runs/v2 -cf "$OUT/logs.tar" $(cd runs/v2 && ls *.log */log.jsonl */loss.png */config.toml */samples/*.png 2>/dev/null)
python3 - <<'PY'
import os
from safetensors import safe_open
from safetensors.torch import save_file
for r in os.environ.get("KEEP", "main nohints clean gan").split():
    with safe_open(f"runs/v2/{r}/best.safetensors", "pt") as f:
        meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v.half() if v.is_floating_point() else v for k, v in t.items()}, f"{os.environ['OUT']}/{r}.safetensors", metadata=meta)
PY
ls -la $OUT
