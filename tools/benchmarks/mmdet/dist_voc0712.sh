#!/usr/bin/env bash
# Faster R-CNN R50-C4 VOC07+12 transfer of a pre-trained backbone with torchrun.
#   bash tools/benchmarks/mmdet/dist_voc0712.sh CONFIG PRETRAIN_CKPT GPUS [ARGS...]
# PRETRAIN_CKPT (pre-training checkpoint or extracted backbone) initialises res2-res4 of
# the backbone and res5 of the RoI head (strict loading). The protocol's batch is 16:
# use 8 GPUs (x 2 images) or scale the lr (--auto-scale-lr). ARGS go to tools/train.py.
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
    "model.roi_head.shared_head.init_cfg.checkpoint=$PRETRAIN" \
    "${@:4}"
