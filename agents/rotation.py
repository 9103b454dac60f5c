"""Rotations for the policy head: the 6D representation with Gram-Schmidt, and the geodesic loss.

Convention (as the environment's): gripper rotation columns = [forward, up x forward, up]. The 6D
vector is the first two columns before orthonormalisation.
"""
from __future__ import annotations

import torch


def gram_schmidt_6d(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) proper rotation: c0 = a1/|a1|, c1 = the part of a2 orthogonal to c0,
    normalised, c2 = c0 x c1."""
    a1, a2 = x[..., :3], x[..., 3:6]
    c0 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(eps)
    a2 = a2 - (c0 * a2).sum(-1, keepdim=True) * c0
    c1 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(eps)
    c2 = torch.linalg.cross(c0, c1, dim=-1)
    return torch.stack([c0, c1, c2], dim=-1)


def rotation_to_6d(R: torch.Tensor) -> torch.Tensor:
    """The inverse of gram_schmidt_6d on rotations: the first two columns, concatenated."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def rotation_from_up_forward(up: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Columns [forward, up x forward, up] (forward re-orthogonalised against up)."""
    up = up / up.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    fw = forward - (forward * up).sum(-1, keepdim=True) * up
    fw = fw / fw.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.stack([fw, torch.linalg.cross(up, fw, dim=-1), up], dim=-1)


def geodesic_angle(R1: torch.Tensor, R2: torch.Tensor) -> torch.Tensor:
    """Angle (radians, in [0, pi]) of the rotation taking R1 to R2, per batch item.

    atan2(sin, cos) of M = R1^T R2 rather than acos of the trace: accurate near 0 and pi in float32
    and with a finite gradient everywhere (the sine's norm is smoothed at exactly zero)."""
    M = R1.transpose(-1, -2) @ R2
    cos = (M.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    skew = torch.stack([M[..., 2, 1] - M[..., 1, 2], M[..., 0, 2] - M[..., 2, 0],
                        M[..., 1, 0] - M[..., 0, 1]], dim=-1)
    sin = torch.sqrt((skew * skew).sum(-1) + 1e-12) / 2
    return torch.atan2(sin, cos)


def geodesic_loss(R_pred: torch.Tensor, R_true: torch.Tensor) -> torch.Tensor:
    """Mean geodesic angle: 0 for equal rotations, pi for opposite ones (rotated by pi)."""
    return geodesic_angle(R_pred, R_true).mean()


def up_angle(R1: torch.Tensor, R2: torch.Tensor) -> torch.Tensor:
    """Angle (radians, in [0, pi]) between the up (approach) axes, the third columns, per batch item:
    the rotation error with the roll about the approach axis ignored. atan2 of the cross and dot
    products, so the gradient stays finite at 0 and pi (where acos's is not)."""
    a, b = R1[..., :, 2], R2[..., :, 2]
    cross = torch.linalg.cross(a, b, dim=-1)
    return torch.atan2(torch.sqrt((cross * cross).sum(-1) + 1e-12), (a * b).sum(-1))


ROTATION_LOSSES = ("up", "geodesic")


def rotation_loss(kind: str, R_pred: torch.Tensor, R_true: torch.Tensor) -> torch.Tensor:
    """`up`: mean up-axis angle (the demos draw the roll at random, so only the approach axis is a
    target); `geodesic`: mean geodesic angle of the whole rotation (the paper's)."""
    if kind == "up":
        return up_angle(R_pred, R_true).mean()
    if kind == "geodesic":
        return geodesic_loss(R_pred, R_true)
    raise ValueError(f"rotation loss {kind!r}: allowed: {', '.join(ROTATION_LOSSES)}")

