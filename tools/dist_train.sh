#!/usr/bin/env bash
# Distributed training with torchrun, on one node or several.
#
#   tools/dist_train.sh CONFIG GPUS [TRAIN_ARGS...]
#
# GPUS: processes per node (one per GPU; on a host without a GPU, CPU processes
# that communicate over gloo). TRAIN_ARGS go to tools/train.py unchanged, e.g.
# --work-dir DIR, --resume, --amp, --cfg-options key=value.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (python). Several nodes: run it on each node with the same NNODES,
# MASTER_ADDR and PORT and NODE_RANK=0..NNODES-1.
#
# The script execs torchrun (through tools/misc/torchrun.py, in the same process),
# so a SIGTERM / SIGUSR1 sent to it or to its process group reaches torchrun once,
# which forwards it to the workers (PreemptionCheckpointHook then saves a
# checkpoint of the current iteration, data-loader workers included, and every
# worker exits with code 75); the script then exits with 75 as well (torchrun
# alone would exit with 1), so a job script can requeue on 75.

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [TRAIN_ARGS...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
if ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: GPUS (processes per node) must be a positive integer, got '$GPUS'" >&2
    exit 2
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# torchrun forwards these signals to the workers; SIGUSR1 is slurm's early warning
# (--signal=USR1@SECONDS). Older torch versions ignore this variable.
export PET_SIGNALS_TO_HANDLE=${PET_SIGNALS_TO_HANDLE:-"SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" "$ROOT/tools/misc/torchrun.py" \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch \
    "${@:3}"
