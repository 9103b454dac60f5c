"""What every recorded result carries: package versions and the git commit; and the thread settings
that simulation worker processes inherit. Shared by data collection, checkpoints and evaluation."""
from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

SIM_PACKAGES = ("numpy", "sapien", "mani_skill", "gymnasium", "pyarrow", "pandas", "pillow")
MODEL_PACKAGES = ("torch", "transformers", "open-clip-torch", "safetensors")


def versions(packages=SIM_PACKAGES + MODEL_PACKAGES, git: bool = True) -> dict:
    """Python, platform, the given packages' versions (None if absent), this project's version and
    (with `git`) its commit."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in (*packages, "robomamba-bench"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    if git:
        with contextlib.suppress(Exception):
            import subprocess

            root = Path(__file__).resolve().parents[1]
            out["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                               text=True, timeout=5).stdout.strip() or None
    return out


@contextlib.contextmanager
def single_threaded_children():
    """Worker processes started inside inherit these: one BLAS/OpenMP thread each (the parallelism is
    processes)."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
