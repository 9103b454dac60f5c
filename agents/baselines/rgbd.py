"""The RGB-D input and fully convolutional backbone shared by the per-pixel baselines (Where2Act, UMPNet).

Input: (7, S, S) = RGB in [-1, 1], camera-frame normals from depth, depth relative to the object's
median (x4). Output: a feature per cell of a grid of half the input's side (FEATURE_STRIDE).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

IN_CHANNELS = 7
FEATURE_STRIDE = 2  # input pixels per feature cell


def observation_tensor(rgb: np.ndarray, depth: np.ndarray, normals: np.ndarray, object_mask: np.ndarray) -> np.ndarray:
    """(7, S, S) float32 network input from arrays at the network's size."""
    d = depth.astype(np.float32)
    ref = np.median(d[object_mask]) if object_mask.any() else 1.0
    rel = np.where(d > 0, d - ref, 0.0)
    return np.concatenate([rgb.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1, normals.transpose(2, 0, 1),
                           rel[None] * 4], 0).astype(np.float32)


def observation_input(obs: dict, size: int) -> np.ndarray:
    """observation_tensor of an environment observation, resized to `size`."""
    from ..training_data import depth_normals, resize

    normals = depth_normals(obs["depth"], np.asarray(obs["intrinsics"], np.float64))
    n3 = np.stack([resize(np.ascontiguousarray(normals[..., k]), size) for k in range(3)], -1)
    return observation_tensor(resize(obs["rgb"], size), resize(obs["depth"].astype(np.float32), size), n3,
                              resize(obs["object_mask"], size))


def dataset_inputs(data) -> torch.Tensor:
    """(N, 7, S, S) inputs of a training_data.Decoded loaded with_masks."""
    return torch.from_numpy(np.stack([observation_tensor(data.rgb[i], data.depth[i], data.normals[i],
                                                         data.object_mask[i]) for i in range(len(data))]))


def batch_features(net, observations, device) -> tuple:
    """(features (B, C, G, G), G) of a batch of environment observations through an RGBDBackbone `net`."""
    S = net.cfg.image_size
    x = torch.from_numpy(np.stack([observation_input(o, S) for o in observations])).to(device)
    return net.features(x), S // FEATURE_STRIDE


def object_cells(obs: dict, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols) of the observation's object pixels and (r_s, c_s) of the feature cells holding them."""
    h, w = obs["rgb"].shape[:2]
    rows, cols = np.nonzero(obs["object_mask"])
    r_s = np.minimum(((rows + 0.5) * grid / h).astype(int), grid - 1)
    c_s = np.minimum(((cols + 0.5) * grid / w).astype(int), grid - 1)
    return rows, cols, r_s, c_s


def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GELU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.GELU())


class RGBDBackbone(nn.Module):
    """A three-level encoder-decoder of `width` channels; subclasses add their heads."""

    def __init__(self, width: int):
        super().__init__()
        w = width
        self.e1, self.e2, self.e3 = block(IN_CHANNELS, w, 2), block(w, 2 * w, 2), block(2 * w, 4 * w, 2)
        self.d2 = block(4 * w + 2 * w, 2 * w)
        self.d1 = block(2 * w + w, w)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 7, S, S) -> (B, width, S / 2, S / 2)."""
        up = lambda t, ref: nn.functional.interpolate(t, size=ref.shape[-2:], mode="nearest")  # noqa: E731
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        g2 = self.d2(torch.cat([up(f3, f2), f2], 1))
        return self.d1(torch.cat([up(g2, f1), f1], 1))

    @staticmethod
    def at(feats: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return feats[batch, :, rows, cols]


def off_part_cells(object_mask: np.ndarray, target_mask: np.ndarray) -> tuple[list, list]:
    """Per sample of the (N, S, S) masks: feature cells on the object but off the target part, and all object
    cells."""
    sub = (slice(FEATURE_STRIDE // 2, None, FEATURE_STRIDE),) * 2  # masks at the feature cells' centres
    off = [np.argwhere((o & ~t)[sub]) for o, t in zip(object_mask, target_mask)]
    onobj = [np.argwhere(o[sub]) for o in object_mask]
    return off, onobj


def random_rotations(n: int, rng: np.random.Generator) -> torch.Tensor:
    """Random gripper rotations whose approach axis faces the camera (up_z > 0), as the random agent's."""
    from ..rotation import rotation_from_up_forward

    up = rng.normal(size=(n, 3))
    up[:, 2] = np.abs(up[:, 2])
    return rotation_from_up_forward(torch.tensor(up, dtype=torch.float32),
                                    torch.tensor(rng.normal(size=(n, 3)), dtype=torch.float32))
