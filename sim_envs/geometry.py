"""Camera and rotation maths shared by the environment, its privileged helper and the agents.

Camera frame convention (OpenCV): x right, y down, z forward (into the scene). Pixels are
(row, col); the intrinsics K use continuous image coordinates in which integer pixel (r, c) covers
[r, r+1) x [c, c+1), i.e. its centre is at (r + 0.5, c + 0.5). `cam2world` is the 4x4 pose of that frame
in the world (z up).
"""
from __future__ import annotations

import numpy as np

# SAPIEN's render camera frame (OpenGL): x right, y up, z backward. Columns of this matrix are the
# OpenCV axes expressed in that frame.
GL_FROM_CV = np.diag([1.0, -1.0, -1.0])


def normalize(v: np.ndarray, axis: int = -1, eps: float = 1e-9) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=axis, keepdims=True)
    return v / np.maximum(n, eps)


def unit(v) -> np.ndarray:
    """`v` / |v| for one vector (unchanged if zero)."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


# ---------------------------------------------------------------------------------------- the gripper frame
def orthonormal_forward(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """`forward` made orthogonal to the unit vector `up`, at unit length (the gripper's x axis);
    ValueError if it is zero or parallel to `up`."""
    fw = np.asarray(forward, dtype=np.float64)
    f = fw - up * np.dot(fw, up)
    nf = np.linalg.norm(f)
    if not nf >= 1e-6:
        raise ValueError("forward is zero or parallel to up")
    return f / nf


def random_forward(rng: np.random.Generator, up: np.ndarray) -> np.ndarray:
    """A uniformly random unit vector orthogonal to the unit vector `up` (a random gripper roll)."""
    return orthonormal_forward(up, rng.normal(size=3))


def random_approach(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(up, forward): `up` uniform on the hemisphere pointing into the scene (camera-frame z > 0),
    `forward` a random roll about it: the baselines' uninformed gripper pose."""
    up = rng.normal(size=3)
    up /= np.linalg.norm(up)
    if up[2] < 0:  # camera frame z points away from the camera: approach from its side
        up = -up
    return up, random_forward(rng, up)


def gram_schmidt(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Gripper rotation from approach axis `up` and x axis `forward`: columns [f, up x f, up].

    `forward` is made orthogonal to `up`; raises ValueError if either is zero/non-finite or they are
    parallel.
    """
    up = np.asarray(up, dtype=np.float64)
    fw = np.asarray(forward, dtype=np.float64)
    if not (np.all(np.isfinite(up)) and np.all(np.isfinite(fw))):
        raise ValueError("up/forward contain NaN or inf")
    nu = np.linalg.norm(up)
    if nu < 1e-6:
        raise ValueError("up has zero length")
    u = up / nu
    f = orthonormal_forward(u, fw)
    return np.stack([f, np.cross(u, f), u], axis=1)


# ---------------------------------------------------------------------------------------- pixels and frames
def lift_pixel(row: float, col: float, depth: float, K: np.ndarray) -> np.ndarray:
    """The camera-frame point seen at the centre of integer pixel (row, col), at metric depth
    `depth` (along z): the pixel-centre convention above."""
    x = (col + 0.5 - K[0, 2]) / K[0, 0] * depth
    y = (row + 0.5 - K[1, 2]) / K[1, 1] * depth
    return np.array([x, y, depth], dtype=np.float64)


def point_map(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W, 3) camera-frame points of a depth image, each pixel lifted at its centre."""
    h, w = depth.shape
    rows, cols = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    return np.stack([(cols - K[0, 2]) / K[0, 0] * depth, (rows - K[1, 2]) / K[1, 1] * depth, depth], -1)


def camera_to_pixel(p_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Project camera-frame points (..., 3) to continuous (row, col): integer pixel (r, c) covers
    [r, r+1) x [c, c+1), so np.floor gives the pixel and (r + 0.5, c + 0.5) is its centre."""
    p = np.asarray(p_cam, dtype=np.float64)
    col = K[0, 0] * p[..., 0] / p[..., 2] + K[0, 2]
    row = K[1, 1] * p[..., 1] / p[..., 2] + K[1, 2]
    return np.stack([row, col], axis=-1)


def camera_to_world(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Camera-frame point(s) (3,) or (N, 3) to the world, with cam2world `T`."""
    p = np.asarray(p, dtype=np.float64)
    return T[:3, :3] @ p + T[:3, 3] if p.ndim == 1 else p @ T[:3, :3].T + T[:3, 3]


def world_to_camera(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """World point(s) (3,) or (N, 3) to the camera frame of cam2world `T`."""
    p = np.asarray(p, dtype=np.float64)
    return T[:3, :3].T @ (p - T[:3, 3]) if p.ndim == 1 else (p - T[:3, 3]) @ T[:3, :3]


def normals_from_points(points: np.ndarray, valid: np.ndarray, step: int = 2) -> np.ndarray:
    """Unit surface normals (H, W, 3) from an organised point map in the camera frame.

    Central differences `step` pixels apart, crossed; oriented to face the camera; zero where a
    neighbour has no surface. What a depth-sensing agent can compute: noisy at edges and where depth
    is quantised; `privileged.true_normals` gives the geometry's own normals.
    """
    P = np.asarray(points, dtype=np.float32)
    H, W, _ = P.shape
    pad = np.pad(P, ((step, step), (step, step), (0, 0)), mode="edge")
    vpad = np.pad(valid, ((step, step), (step, step)), mode="constant")
    ok = (valid & vpad[step:step + H, 2 * step:] & vpad[step:step + H, :W]
          & vpad[2 * step:, step:step + W] & vpad[:H, step:step + W])
    r, c = np.nonzero(ok)  # only where there is a surface (a small part of the image)
    a = pad[r + step, c + 2 * step] - pad[r + step, c]
    b = pad[r + 2 * step, c + step] - pad[r, c + step]
    n = np.cross(a, b)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = n / np.maximum(norm, 1e-12)
    facing = np.sum(n * P[r, c], axis=-1) > 0  # should point back toward the camera origin
    n[facing] *= -1
    n[norm[:, 0] <= 1e-12] = 0
    out = np.zeros((H, W, 3), dtype=np.float32)
    out[r, c] = n
    return out


def look_at_cv(eye: np.ndarray, target: np.ndarray, world_up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 OpenCV cam2world looking from `eye` at `target`, image 'up' toward world_up.

    ManiSkill's `sapien_utils.look_at` does the same in float32 torch; measured on 3,000 sampled
    cameras, its pose differs from this float64 one (after SAPIEN's float32 cast) in 96%, so the
    rendered episodes would change: this one is kept for the benchmark's reproducibility."""
    eye = np.asarray(eye, dtype=np.float64)
    z = normalize(np.asarray(target, dtype=np.float64) - eye)
    x = np.cross(z, np.asarray(world_up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-6:  # looking straight up/down
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x = normalize(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T


def euler_xyz(R: np.ndarray) -> np.ndarray:
    """Angles (a, b, c) with R = Rx(a) @ Ry(b) @ Rz(c): the floating gripper's joint chain.

    Written out rather than scipy's `as_euler("XYZ")` / transforms3d's `mat2euler(R, "rxyz")`: they
    agree away from gimbal lock, but switch to the locked formula at another threshold, and the
    expert's noise-free approach to a front face (up along world x, |R[0, 2]| = 1 - 1e-16 after the
    camera round trip) lies between the two, so the gripper's joint targets, hence the physics,
    would change (scipy also warns on every such episode)."""
    R = np.asarray(R, dtype=np.float64)
    sb = np.clip(R[0, 2], -1.0, 1.0)
    b = np.arcsin(sb)
    if abs(sb) < 1 - 1e-9:
        a = np.arctan2(-R[1, 2], R[2, 2])
        c = np.arctan2(-R[0, 1], R[0, 0])
    else:  # gimbal lock: c absorbed into a
        a = np.arctan2(R[2, 1], R[1, 1])
        c = 0.0
    return np.array([a, b, c])


def quat_wxyz(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix: SAPIEN's order (scipy's is x, y, z, w)."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(np.asarray(R, dtype=np.float64)).as_quat()
    return np.array([w, x, y, z])


def axis_frame_quat(axis) -> np.ndarray:
    """Quaternion (wxyz) of a frame whose x axis is `axis` (SAPIEN joints act along/about x)."""
    x = np.asarray(axis, dtype=np.float64)
    x = x / np.linalg.norm(x)
    helper = np.array([0.0, 0.0, 1.0]) if abs(x[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    y = np.cross(helper, x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return quat_wxyz(np.stack([x, y, z], axis=1))
