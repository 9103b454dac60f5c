"""The object's point cloud of one observation, as both the trainer and the agent read it."""
from __future__ import annotations

import numpy as np


def object_cloud(depth: np.ndarray, K: np.ndarray, object_mask: np.ndarray):
    """(rows, cols, points (M, 3), normals (M, 3)) of the object's pixels with depth, camera frame."""
    from sim_envs.geometry import point_map

    from ...training_data import depth_normals

    K = np.asarray(K, np.float64).reshape(3, 3)
    rows, cols = np.nonzero(object_mask & (depth > 0))
    pts = point_map(depth, K)[rows, cols].astype(np.float64)
    normals = depth_normals(depth, K)[rows, cols].astype(np.float64)
    return rows, cols, pts, normals


def sample_indices(rng: np.random.Generator, available: int, n: int) -> np.ndarray:
    """`n` indices of `available` points: without replacement when there are enough, sorted."""
    return np.sort(rng.choice(available, size=n, replace=available < n))
