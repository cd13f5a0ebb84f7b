#!/usr/bin/env bash
# Evaluation on a slurm cluster: srun starts one task per GPU (--launcher slurm).
#
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [TEST_ARGS...]
#
# TEST_ARGS go to tools/test.py unchanged, e.g. --work-dir DIR, --out FILE.pkl,
# --cfg-options key=value.
# Environment: GPUS (8), GPUS_PER_NODE (8, at most GPUS), CPUS_PER_TASK (5),
# SRUN_ARGS ("", split on white space), GRES (gpu:$GPUS_PER_NODE; GRES= on CPU
# partitions), PYTHON (python), MASTER_PORT (29500).

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [TEST_ARGS...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
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
if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then
    GPUS_PER_NODE=$GPUS
fi
GRES=${GRES-"gpu:$GPUS_PER_NODE"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

GRES_ARGS=()
if [ -n "$GRES" ]; then
    GRES_ARGS=(--gres="$GRES")
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
set -x
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${GRES_ARGS[@]}" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher=slurm "$@"
