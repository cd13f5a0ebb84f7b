#!/usr/bin/env bash
# Install mmfa and its pinned OpenMMLab stack (see requirements/constraints.txt).
#
# One script for README, CI and docker/Dockerfile:
#   bash tools/install.sh            # virtual env, linked at ./.venv (default)
#   bash tools/install.sh --system   # into the current interpreter (Docker)
#   bash tools/install.sh --cuda     # build/use mmcv with CUDA ops (auto when a GPU is visible)
#
# The pinned stack is installed once into an environment cached under $MMFA_CACHE
# (default ~/.cache/mmfa), keyed by a hash of requirements/ and STACK_REVISION below;
# each checkout gets a light .venv that sees that stack and its own mmfa (a .pth
# file), so a second run (CI, a fresh clone) takes seconds and several checkouts can
# share one stack without importing each other's mmfa.
# mmcv 2.1.0 has no wheel on PyPI: a matching prebuilt wheel (../shared/wheels, or the
# wheelhouse of an earlier build) is used; otherwise the sdist is built once with the C++20
# fix torch >= 2.14 needs, and the wheel is kept in the wheelhouse for next time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=venv
OPS=auto
CACHE=${MMFA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmfa}
VENV_LINK=${MMFA_VENV:-$ROOT/.venv}
SHARED_WHEELS=${MMFA_SHARED_WHEELS:-$ROOT/../shared/wheels}
# Bump when install_stack below changes what ends up in the cached environment.
STACK_REVISION=1

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --venv) MODE=venv ;;
        --cuda) OPS=cuda ;;
        --cpu) OPS=cpu ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (valid: --system --venv --cuda --cpu --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '\033[1m[mmfa install]\033[0m %s\n' "$*"; }
die() { printf '[mmfa install] ERROR: %s\n' "$*" >&2; exit 1; }

if [ -n "${PYTHON:-}" ]; then
    BASE_PY=$PYTHON
elif command -v python3.11 >/dev/null 2>&1; then
    BASE_PY=python3.11
else
    BASE_PY=python3
fi
command -v "$BASE_PY" >/dev/null 2>&1 || die "no Python interpreter '$BASE_PY' found; set PYTHON=/path/to/python3.11"
PYVER=$("$BASE_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$PYVER" = "3.11" ] || log "warning: Python $PYVER; the stack is pinned and tested on Python 3.11"

if [ "$OPS" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then OPS=cuda; else OPS=cpu; fi
fi
log "mmcv ops: $OPS; mode: $MODE; cache: $CACHE"

CONSTRAINTS=$ROOT/requirements/constraints.txt
pip_install() {
    "$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS" "$@"
}

# Report (and below, correct) what is known to break this stack, so an install never
# ends half-working: setuptools >= 82 drops pkg_resources (mmengine `pkg::` bases, mmcv's
# setup.py); numpy 2 breaks mmcv 2.1 / mmdet 3.3.
check_known_breakage() {
    "$PY" - <<'EOF' || true
from importlib import metadata
def ver(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
st, np_ = ver('setuptools'), ver('numpy')
if st and int(st.split('.')[0]) >= 82:
    print(f'[mmfa install] found setuptools {st}: it has no pkg_resources, which mmengine '
          "'pkg::' configs and mmcv's setup.py need -> installing setuptools>=77,<82")
if np_ and int(np_.split('.')[0]) >= 2:
    print(f'[mmfa install] found numpy {np_}: mmcv 2.1 / mmdet 3.3 need numpy<2 '
          '-> installing numpy>=1.26,<2')
EOF
}

install_mmcv() {
    local torch_ver wheelhouse tmp src
    torch_ver=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')
    wheelhouse=$CACHE/wheels/mmcv-2.1.0-torch${torch_ver}-py${PYVER}-${OPS}
    mkdir -p "$wheelhouse"
    local links=(--find-links "$wheelhouse")
    # The shared wheel holds CPU ops built against torch 2.14.1 / cp311 only.
    if [ "$OPS" = cpu ] && [ "$torch_ver" = 2.14.1 ] && [ "$PYVER" = 3.11 ] && [ -d "$SHARED_WHEELS" ]; then
        links+=(--find-links "$SHARED_WHEELS")
    fi
    if "$PY" -c 'import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != "2.1.0")' >/dev/null 2>&1; then
        log "mmcv 2.1.0 with ops already installed"
        return
    fi
    if "$PY" -m pip install --disable-pip-version-check --no-index --no-deps "${links[@]}" mmcv==2.1.0; then
        log "mmcv 2.1.0 installed from a prebuilt wheel"
        return
    fi
    log "no matching mmcv wheel: building mmcv 2.1.0 ($OPS ops) from the sdist (~45 min on 2 cores)"
    tmp=$(mktemp -d)
    "$PY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation mmcv==2.1.0 -d "$tmp"
    tar xzf "$tmp"/mmcv-2.1.0.tar.gz -C "$tmp"
    src=$tmp/mmcv-2.1.0
    # torch >= 2.14 headers require C++20; mmcv 2.1.0 hard-codes c++14/c++17.
    sed -i 's/c++14/c++20/g; s/c++17/c++20/g' "$src/setup.py"
    local force_cuda=0
    [ "$OPS" = cuda ] && force_cuda=1
    (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps -w "$wheelhouse" .)
    rm -rf "$tmp"
    "$PY" -m pip install --disable-pip-version-check --no-index --no-deps --find-links "$wheelhouse" mmcv==2.1.0
}

install_stack() {
    check_known_breakage
    pip_install "setuptools>=77,<82" wheel ninja
    pip_install torch==2.14.1 torchvision==0.29.1 "numpy>=1.26,<2" "opencv-python<4.12"
    pip_install mmengine==0.10.7
    install_mmcv
    pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/mminstall.txt" \
        -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/optional.txt"
}

# A per-checkout virtual environment on top of the cached stack: no pip, no packages
# of its own; a .pth file adds the stack's site-packages and this checkout's root.
make_checkout_venv() {
    local stack_site venv_site
    stack_site=$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    if [ -L "$VENV_LINK" ]; then
        rm "$VENV_LINK"  # an older install.sh linked the stack itself here
    fi
    if [ -e "$VENV_LINK" ] && [ ! -f "$VENV_LINK/.mmfa-venv" ]; then
        die "$VENV_LINK exists and was not made by this script; remove it or set MMFA_VENV"
    fi
    if [ ! -x "$VENV_LINK/bin/python" ]; then
        "$BASE_PY" -m venv --without-pip "$VENV_LINK"
        touch "$VENV_LINK/.mmfa-venv"
    fi
    venv_site=$("$VENV_LINK/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    printf 'import site; site.addsitedir(%s)\n%s\n' "'$stack_site'" "$ROOT" > "$venv_site/mmfa-stack.pth"
}

if [ "$MODE" = venv ]; then
    HASH=$( (cat "$ROOT"/requirements/*.txt; echo "stack revision $STACK_REVISION") | sha256sum | cut -c1-12)
    ENV_DIR=$CACHE/envs/py${PYVER}-${OPS}-${HASH}
    if [ -f "$ENV_DIR/.mmfa-complete" ] && "$ENV_DIR/bin/python" -c 'import mmcv.ops, mmdet, mmpretrain' >/dev/null 2>&1; then
        log "reusing cached environment $ENV_DIR"
    else
        log "creating environment $ENV_DIR"
        rm -rf "$ENV_DIR"
        mkdir -p "$(dirname "$ENV_DIR")"
        "$BASE_PY" -m venv "$ENV_DIR"
        PY=$ENV_DIR/bin/python
        install_stack
        touch "$ENV_DIR/.mmfa-complete"
    fi
    make_checkout_venv
    PY=$VENV_LINK/bin/python
else
    PY=$BASE_PY
    install_stack
    # mmfa itself, editable, so tools/ and configs/ of this checkout are the ones that run.
    "$PY" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$ROOT"
fi

log "checking the installed stack"
"$PY" -m mmfa.utils.collect_env --check
log "done. Python: $PY (tests: $PY -m pytest; launchers: PYTHON=$PY bash tools/dist_train.sh ...)"
