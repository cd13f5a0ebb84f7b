#!/usr/bin/env bash
# Linear evaluation of a pre-trained backbone on a slurm cluster (tools/slurm_train.sh).
#
#   tools/benchmarks/mmpretrain/slurm_linear_eval.sh PARTITION JOB_NAME CONFIG PRETRAIN_CKPT [TRAIN_ARGS...]
#
# PRETRAIN_CKPT: a pre-training checkpoint or an extracted backbone, loaded strictly
# into model.backbone. TRAIN_ARGS go to tools/train.py (--work-dir DIR, --resume,
# --cfg-options key=value ...). Environment: as tools/slurm_train.sh (GPUS=8,
# GPUS_PER_NODE=8, CPUS_PER_TASK, SRUN_ARGS, GRES, PYTHON).
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
    "${@:5}"
