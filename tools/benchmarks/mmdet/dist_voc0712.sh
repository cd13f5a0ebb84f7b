#!/usr/bin/env bash
# Faster R-CNN R50-C4 VOC07+12 transfer of a pre-trained backbone with torchrun
# (tools/dist_train.sh).
#
#   tools/benchmarks/mmdet/dist_voc0712.sh CONFIG PRETRAIN_CKPT GPUS [TRAIN_ARGS...]
#
# PRETRAIN_CKPT (a pre-training checkpoint or an extracted backbone) initialises
# res2-res4 in the backbone and res5 in the RoI head, strictly. The protocol's batch
# is 16 = 8 GPUs x 2 images: with other GPU counts pass --auto-scale-lr.
# TRAIN_ARGS go to tools/train.py (--work-dir DIR, --resume, --cfg-options ...).
# Environment: as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON).
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG PRETRAIN_CKPT GPUS [TRAIN_ARGS...]" >&2
    exit 2
fi
CONFIG=$1
PRETRAIN=$2
GPUS=$3
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
if [ ! -f "$PRETRAIN" ]; then
    echo "$0: pre-training checkpoint not found: $PRETRAIN" >&2
    exit 2
fi

exec bash "$ROOT/tools/dist_train.sh" "$CONFIG" "$GPUS" \
    --cfg-options "model.backbone.init_cfg.checkpoint=$PRETRAIN" \
    "model.roi_head.shared_head.init_cfg.checkpoint=$PRETRAIN" \
    "${@:4}"
