#!/usr/bin/env bash
# Linear evaluation of a pre-trained backbone on a Slurm cluster.
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/benchmarks/mmpretrain/slurm_linear_eval.sh \
#       PARTITION JOB_NAME CONFIG PRETRAIN_CKPT [ARGS...]
# ARGS go to tools/train.py (e.g. --work-dir DIR --resume --cfg-options k=v).
set -x
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG PRETRAIN_CKPT [tools/train.py args...]" >&2
    exit 1
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PRETRAIN=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"

PYTHONPATH="$ROOT":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$ROOT/tools/train.py" "${CONFIG}" \
    --launcher="slurm" \
    --cfg-options "model.backbone.init_cfg.checkpoint=$PRETRAIN" \
    "${@:5}"
