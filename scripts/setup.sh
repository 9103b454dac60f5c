#!/usr/bin/env bash
# Set up everything this project needs on a fresh Debian/Ubuntu machine, idempotently:
#   1. the Vulkan driver SAPIEN renders with (Mesa >= 24.3 lavapipe on CPU-only machines; on
#      Debian bookworm it comes from bookworm-backports),
#   2. a virtual environment .venv with the project installed (editable) and its dependencies.
# Usage: bash scripts/setup.sh [--dev]     (--dev adds the test tools, Ray, LeRobot and chromium, which tests use)
# Versions come from the lock, requirements/constraints.txt (Python 3.11 or 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=""
[ "${1:-}" = "--dev" ] && EXTRAS="[dev,lerobot,ray]"

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

have_nvidia() { [ -e /proc/driver/nvidia/version ] || command -v nvidia-smi >/dev/null 2>&1; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://; s/[^0-9.].*//'; }
mesa_ok() {
  local v; v=$(mesa_version)
  [ -n "$v" ] && [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] && \
    [ "$(printf '%s\n24.3\n' "$v" | sort -V | head -n1)" = "24.3" ]
}

if ! have_nvidia && ! mesa_ok; then
  echo "setup: installing Mesa lavapipe (CPU Vulkan) for SAPIEN rendering"
  . /etc/os-release
  if [ "${ID:-}" = "debian" ] && [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
  mesa_ok || { echo "setup: Mesa >= 24.3 lavapipe is needed for CPU rendering; got '$(mesa_version)'" >&2; exit 1; }
fi
# libegl/libgl are not needed by SAPIEN's Vulkan renderer; vulkan loader is.
ldconfig -p | grep -q libvulkan.so.1 || { $SUDO apt-get install -y -qq libvulkan1 >/dev/null; }

# --dev: a real browser for the report's page test (tests/test_report.py drives it with selenium and the
# distribution's own driver; nothing downloads a browser build)
if [ -n "${EXTRAS}" ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  echo "setup: installing chromium and chromium-driver (the report's browser test)"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# a C++ compiler and ninja: the fused CPU Mamba scan is compiled for this machine (agents/robomamba/scan_kernel.py)
if ! { command -v g++ >/dev/null && command -v ninja >/dev/null; }; then
  echo "setup: installing g++ and ninja-build (the fused CPU scan kernel)"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq g++ ninja-build >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# the project with the locked versions of everything it needs (refresh the lock: bash scripts/lock.sh)
.venv/bin/python -m pip install -q -c requirements/constraints.txt -e ".${EXTRAS}"
# packages whose metadata pins versions they do not need: without their dependencies, pinned by hash
.venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements/no-deps.txt
if [ -n "${EXTRAS}" ]; then .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements/no-deps-dev.txt; fi
# compile the fused CPU scan now (about 20 s, cached per machine) rather than on a Mamba model's first use
.venv/bin/python -m agents.robomamba.scan_kernel
echo "setup: ok ($(.venv/bin/python -c 'import sapien, mani_skill, torch; print("sapien", sapien.__version__, "mani_skill", mani_skill.__version__, "torch", torch.__version__)' 2>/dev/null))"
