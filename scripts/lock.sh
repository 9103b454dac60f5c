#!/usr/bin/env bash
# Refresh the lock that scripts/setup.sh installs from (pyproject.toml keeps the ranges):
#   requirements/constraints.txt  every dependency of the project and of its extras (dev, ray, lerobot), pinned:
#                                 one universal resolution by uv for the supported Pythons (3.11, 3.12) and
#                                 platforms, each pin with its environment marker where it needs one.
# Versions already in the lock are kept (uv prefers them) unless a range in pyproject.toml no longer
# admits them, or --upgrade is given. The two packages installed with --no-deps are pinned by version
# and hash, by hand: requirements/no-deps.txt (always) and requirements/no-deps-dev.txt (--dev).
# Usage: bash scripts/lock.sh [--upgrade]        (needs the network to PyPI; commit the result)
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
[ -x .venv/bin/uv ] && .venv/bin/uv --version | grep -q "$UV_VERSION" || .venv/bin/python -m pip install -q "uv==$UV_VERSION"
.venv/bin/uv pip compile pyproject.toml --extra dev --extra ray --extra lerobot --universal --python-version 3.11 \
  --quiet -o requirements/constraints.txt ${1:+"$1"}
echo "lock: $(grep -c '==' requirements/constraints.txt) pins in requirements/constraints.txt"
