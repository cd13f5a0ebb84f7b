#!/usr/bin/env bash
# Faster R-CNN R50-C4 VOC07+12 transfer of a pre-trained backbone on a slurm cluster
# (tools/slurm_train.sh).
#
#   tools/benchmarks/mmdet/slurm_voc0712.sh PARTITION JOB_NAME CONFIG PRETRAIN_CKPT [TRAIN_ARGS...]
#
# PRETRAIN_CKPT initialises res2-res4 in the backbone and res5 in the RoI head,
# strictly. TRAIN_ARGS go to tools/train.py. Environment: as tools/slurm_train.sh
# (GPUS=8, GPUS_PER_NODE=8, CPUS_PER_TASK, SRUN_ARGS, GRES, PYTHON).
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG PRETRAIN_CKPT [TRAIN_ARGS...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PRETRAIN=$4
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
if [ ! -f "$PRETRAIN" ]; then
    echo "$0: pre-training checkpoint not found: $PRETRAIN" >&2
    exit 2
fi

exec bash "$ROOT/tools/slurm_train.sh" "$PARTITION" "$JOB_NAME" "$CONFIG" \
    --cfg-options "model.backbone.init_cfg.checkpoint=$PRETRAIN" \
    "model.roi_head.shared_head.init_cfg.checkpoint=$PRETRAIN" \
    "${@:5}"
