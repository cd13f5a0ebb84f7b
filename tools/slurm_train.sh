#!/usr/bin/env bash
# Training on a slurm cluster: srun starts one task per GPU (--launcher slurm).
#
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [TRAIN_ARGS...]
#
# WORK_DIR (optional; an argument starting with "-" is taken as the first
# TRAIN_ARG) becomes --work-dir. TRAIN_ARGS go to tools/train.py unchanged, e.g.
# --resume, --amp, --cfg-options key=value.
# Environment:
#   GPUS (8)           total number of tasks (GPUs)
#   GPUS_PER_NODE (8)  tasks and GPUs per node (at most GPUS)
#   CPUS_PER_TASK (5)  CPU cores per task (data-loading workers)
#   SRUN_ARGS ("")     extra srun options, split on white space,
#                      e.g. "--signal=USR1@180 --time=72:00:00"
#   GRES (gpu:$GPUS_PER_NODE)  srun --gres; set GRES= (empty) on CPU partitions
#   PYTHON (python), MASTER_PORT (29500)
#
# Preemption: slurm sends SIGTERM (and SIGUSR1 with --signal=USR1@SECONDS) to
# every task; PreemptionCheckpointHook saves a checkpoint after the current
# iteration and every task exits with code 75. Requeue and run the same command
# with --resume, e.g. in an sbatch script:
#   tools/slurm_train.sh ... ; [ $? -eq 75 ] && scontrol requeue "$SLURM_JOB_ID"

if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [TRAIN_ARGS...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR=""
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
    WORK_DIR=$1
    shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
for var in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
    if ! [[ "${!var}" =~ ^[1-9][0-9]*$ ]]; then
        echo "$0: $var must be a positive integer, got '${!var}'" >&2
        exit 2
    fi
done
# A job smaller than a node asks for what it uses, not for a whole node.
if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then
    GPUS_PER_NODE=$GPUS
fi
GRES=${GRES-"gpu:$GPUS_PER_NODE"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

GRES_ARGS=()
if [ -n "$GRES" ]; then
    GRES_ARGS=(--gres="$GRES")
fi
WORK_DIR_ARGS=()
if [ -n "$WORK_DIR" ]; then
    WORK_DIR_ARGS=(--work-dir="$WORK_DIR")
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
set -x
# SRUN_ARGS is unquoted on purpose: it holds several srun options.
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${GRES_ARGS[@]}" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}" \
    --launcher=slurm "$@"
