"""Pick a Vulkan driver before SAPIEN starts: the GPU's on NVIDIA machines, Mesa lavapipe otherwise."""
from __future__ import annotations

import os
import shutil

LAVAPIPE_ICD = "/usr/share/vulkan/icd.d/lvp_icd.json"


def has_nvidia() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def configure() -> None:
    """Point the Vulkan loader at lavapipe (CPU rendering) when there is no NVIDIA driver.

    Leaves an explicit VK_ICD_FILENAMES / VK_DRIVER_FILES alone. Must run before `import sapien`.
    """
    if os.environ.get("VK_ICD_FILENAMES") or os.environ.get("VK_DRIVER_FILES") or has_nvidia():
        return
    if os.path.exists(LAVAPIPE_ICD):
        os.environ["VK_ICD_FILENAMES"] = LAVAPIPE_ICD


def render_backend() -> str:
    """ManiSkill render backend name for this machine."""
    return "sapien_cuda" if has_nvidia() else "sapien_cpu"
