"""The frames a policy head can give its gripper rotation in, and the move to the camera frame.

- `camera`: the camera frame (the paper's).
- `world`: z up, the objects' fronts facing -x; the agent applies the observation's `cam2world`.
- `surface`: the frame of the surface at the contact pixel, as the observed depth shows it: its z axis
  points into the surface (along minus the estimated normal, the direction a demo's `up` follows up to
  its noise), its x axis is the image's right projected onto the surface. The head predicts the
  gripper's rotation relative to the surface it touches: the same estimate from the same depth image at
  training time (at the demo's contact pixel) and at test time (at the predicted one). Nothing
  privileged: the depth image is part of every observation, and the evaluator already lifts the contact
  pixel with it.
"""
from __future__ import annotations

import numpy as np

FRAMES = ("camera", "world", "surface")
NORMAL_RADIUS = 4  # pixels each side of the contact pixel that the plane is fitted to
NORMAL_DEPTH_TOL = 0.02  # metres: window pixels farther than this in depth from the contact pixel's are left out


def surface_normal(depth: np.ndarray, K: np.ndarray, row: int, col: int, radius: int = NORMAL_RADIUS,
                   tol: float = NORMAL_DEPTH_TOL) -> np.ndarray | None:
    """Unit camera-frame normal of the surface seen at pixel (row, col), facing the camera: the least
    spread direction of the points within `radius` pixels whose depth is within `tol` of the pixel's
    (so a neighbouring surface at another depth does not tilt it). None without enough such points."""
    h, w = depth.shape
    row, col = int(np.clip(row, 0, h - 1)), int(np.clip(col, 0, w - 1))
    dc = float(depth[row, col])
    if not np.isfinite(dc) or dc <= 0:
        return None
    r0, r1, c0, c1 = max(0, row - radius), min(h, row + radius + 1), max(0, col - radius), min(w, col + radius + 1)
    d = np.asarray(depth[r0:r1, c0:c1], np.float64)
    rr, cc = np.nonzero(np.isfinite(d) & (d > 0) & (np.abs(d - dc) < tol))
    if len(rr) < 6:
        return None
    z = d[rr, cc]
    P = np.stack([(cc + c0 + 0.5 - K[0, 2]) / K[0, 0] * z, (rr + r0 + 0.5 - K[1, 2]) / K[1, 1] * z, z], -1)
    P = P - P.mean(0)
    _, s, vt = np.linalg.svd(P, full_matrices=False)
    if s[1] <= 1e-9:  # the points lie on a line: no plane
        return None
    n = vt[2]
    centre = np.array([(col + 0.5 - K[0, 2]) / K[0, 0] * dc, (row + 0.5 - K[1, 2]) / K[1, 1] * dc, dc])
    return -n if np.dot(n, centre) > 0 else n


def surface_basis(depth: np.ndarray, K: np.ndarray, row: int, col: int) -> np.ndarray:
    """(3, 3) camera-frame columns [x, y, z] of the surface frame at pixel (row, col): z = minus the
    surface normal (into the surface); where the depth gives no plane, z is the line of sight through the
    pixel. x is the camera's x (image right) made orthogonal to z, or its y where that is degenerate."""
    K = np.asarray(K, np.float64)
    n = surface_normal(depth, K, row, col)
    if n is None:
        z = np.array([(col + 0.5 - K[0, 2]) / K[0, 0], (row + 0.5 - K[1, 2]) / K[1, 1], 1.0])
    else:
        z = -n
    z = z / np.linalg.norm(z)
    ref = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - np.dot(ref, z) * z
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def observation_basis(obs: dict, row: int, col: int) -> np.ndarray:
    """surface_basis of an environment observation at full-image pixel (row, col)."""
    return surface_basis(np.asarray(obs["depth"], np.float64), np.asarray(obs["intrinsics"], np.float64), row, col)


def frame_keys(frame: str) -> tuple:
    """The observation keys an agent needs to turn a rotation in `frame` into the camera frame."""
    return {"camera": (), "world": ("cam2world",), "surface": ("depth", "intrinsics")}[frame]


def camera_from(frame: str, obs: dict, pixel: tuple | None = None) -> np.ndarray | None:
    """The (3, 3) matrix that takes vectors given in `frame` into the observation's camera frame (None for
    the camera frame itself); `pixel` (row, col) is the action's contact pixel, which the surface frame is
    taken at."""
    if frame == "camera":
        return None
    if frame == "world":  # cam2world's rotation, transposed
        return np.asarray(obs["cam2world"], np.float64)[:3, :3].T
    if frame == "surface":
        return observation_basis(obs, int(pixel[0]), int(pixel[1]))
    raise ValueError(f"frame={frame!r}: allowed: {', '.join(FRAMES)}")


def directions_to_camera(frame: str, obs: dict, pixel: tuple, *vectors) -> tuple:
    """3-vectors given in `frame` (an up and a forward written by a model), in the observation's camera frame."""
    rot = camera_from(frame, obs, pixel)
    vs = [np.asarray(v, np.float64) for v in vectors]
    return tuple(vs) if rot is None else tuple(rot @ v for v in vs)


def to_camera(frame: str, R: np.ndarray, obs: dict, pixel: tuple | None = None) -> np.ndarray:
    """A (3, 3) rotation predicted in `frame` for observation `obs`, in the camera frame."""
    R = np.asarray(R, np.float64)
    rot = camera_from(frame, obs, pixel)
    return R if rot is None else rot @ R
