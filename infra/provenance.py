"""What every recorded result carries: package versions and the git commit (data collection,
checkpoints, evaluation)."""
from __future__ import annotations

import contextlib
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
