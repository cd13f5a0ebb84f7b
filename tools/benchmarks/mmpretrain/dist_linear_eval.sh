#!/usr/bin/env bash
# Linear evaluation of a pre-trained backbone on one node (or NNODES nodes) with torchrun.
#   bash tools/benchmarks/mmpretrain/dist_linear_eval.sh CONFIG PRETRAIN_CKPT GPUS [ARGS...]
# PRETRAIN_CKPT: a pre-training checkpoint (backbone under 'backbone.') or a backbone
# extracted by tools/model_converters/extract_backbone.py; loaded strictly.
# ARGS go to tools/train.py (e.g. --work-dir DIR --amp --resume --cfg-options k=v).
set -e
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN_CKPT GPUS [tools/train.py args...]" >&2
    exit 1
fi
CONFIG=$1
PRETRAIN=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"

if [ ! -f "$PRETRAIN" ]; then
    echo "pre-training checkpoint not found: $PRETRAIN" >&2
    exit 1
fi

PYTHONPATH="$ROOT":$PYTHONPATH \
torchrun \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch \
    --cfg-options "model.backbone.init_cfg.checkpoint=$PRETRAIN" \
    "${@:4}"
