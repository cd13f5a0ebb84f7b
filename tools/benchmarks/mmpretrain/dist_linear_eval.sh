#!/usr/bin/env bash
# Linear evaluation of a pre-trained backbone with torchrun (tools/dist_train.sh).
#
#   tools/benchmarks/mmpretrain/dist_linear_eval.sh CONFIG PRETRAIN_CKPT GPUS [TRAIN_ARGS...]
#
# PRETRAIN_CKPT: a pre-training checkpoint (backbone under 'backbone.') or a backbone
# extracted by tools/model_converters/extract_backbone.py; it is loaded strictly into
# model.backbone. TRAIN_ARGS go to tools/train.py (--work-dir DIR, --resume, --amp,
# --cfg-options key=value ...). Environment: as tools/dist_train.sh (NNODES,
# NODE_RANK, MASTER_ADDR, PORT, PYTHON).
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
    "${@:4}"
