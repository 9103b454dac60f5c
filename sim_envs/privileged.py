"""Privileged ground truth: affordance map, true surface normals, the expert pose (docs/protocol.md section 5).

Used by data collection and the oracle agent; learned agents never see it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ACTION_DIM
from .geometry import lift_pixel, normalize, random_forward, world_to_camera

REVOLUTE_MIN_AXIS_DISTANCE = 0.6  # revolute parts: only pixels beyond this normalised distance


@dataclass
class PrivilegedView:
    points_cam: np.ndarray  # (H, W, 3) surface points, OpenCV camera frame
    target_mask: np.ndarray  # (H, W) bool
    object_mask: np.ndarray
    cam2world: np.ndarray  # (4, 4)
    intrinsics: np.ndarray  # (3, 3)
    joint_type: str
    axis_point_cam: np.ndarray  # a point on the target joint axis, camera frame
    axis_dir_cam: np.ndarray  # unit axis direction, camera frame
    _raycast: object  # callable(origin_world, dir_world, dist) -> hit or None
    _target_link: object

    @classmethod
    def from_env(cls, env) -> PrivilegedView:
        env = getattr(env, "unwrapped", env)
        T = env._obs["cam2world"].astype(np.float64)
        pt, d = env._target.axis_world()
        return cls(env._points_cam, env._obs["target_mask"], env._obs["object_mask"], T,
                   env._obs["intrinsics"].astype(np.float64),
                   env._target.type, world_to_camera(T, pt), T[:3, :3].T @ d,
                   env._sscene.physx_system.raycast, env._target.link)

    def affordance_map(self) -> np.ndarray:
        """(H, W) float32 weights summing to 1 over the target part's pixels worth pulling.

        Prismatic: the whole visible part. Revolute: pixels whose distance to the hinge axis,
        normalised by the largest such distance on the part, exceeds 0.6.
        """
        mask = self.target_mask.copy()
        if self.joint_type == "revolute" and mask.any():
            rel = self.points_cam - self.axis_point_cam
            along = rel @ self.axis_dir_cam
            dist = np.linalg.norm(rel - along[..., None] * self.axis_dir_cam, axis=-1)
            dmax = dist[mask].max()
            if dmax > 0:
                mask &= dist / dmax > REVOLUTE_MIN_AXIS_DISTANCE
        w = mask.astype(np.float32)
        total = w.sum()
        return w / total if total > 0 else w

    def true_normals(self, pixels) -> np.ndarray:
        """Outward unit surface normals (N, 3) in the camera frame at (row, col) pixels, from a
        ray cast through the pixel's centre against the collision geometry. Zero where the ray
        hits nothing."""
        px = np.atleast_2d(np.asarray(pixels, dtype=np.int64))
        R, t = self.cam2world[:3, :3], self.cam2world[:3, 3]
        out = np.zeros((len(px), 3))
        for i, (r, c) in enumerate(px):
            p = self.points_cam[r, c]
            if p[2] <= 0:
                continue
            direction = normalize(R @ lift_pixel(r, c, 1.0, self.intrinsics))  # through the pixel's centre
            hit = self._raycast(t.astype(np.float32), direction.astype(np.float32), float(2 * np.linalg.norm(p) + 1.0))
            if hit is None:
                continue
            n = R.T @ np.asarray(hit.normal, dtype=np.float64)
            if np.dot(n, p) > 0:  # make it face the camera
                n = -n
            out[i] = normalize(n)
        return out

    def sample_pixel(self, rng: np.random.Generator) -> tuple[int, int] | None:
        """A contact pixel drawn from the affordance map (None if the map is empty)."""
        w = self.affordance_map().ravel()
        if w.sum() <= 0:
            return None
        idx = int(rng.choice(w.size, p=w / w.sum()))
        return divmod(idx, self.target_mask.shape[1])

    def candidate_actions(self, rng: np.random.Generator, k: int, tilt_deg: float = 25.0) -> list[np.ndarray]:
        """Up to `k` actions worth trying on this episode, most promising first: distinct pixels
        drawn from the affordance map, each approached along minus its true normal; then the same
        pixels approached tilted by `tilt_deg` towards four directions around that axis. Random
        roll. (The search ceiling, evaluation.ceiling, tries them in this order.)"""
        w = self.affordance_map().ravel()
        if k <= 0 or w.sum() <= 0:
            return []
        n_pix = min(int(np.count_nonzero(w)), max(1, -(-k // 3)))
        flat = rng.choice(w.size, size=n_pix, replace=False, p=w / w.sum())
        pixels = [divmod(int(i), self.target_mask.shape[1]) for i in flat]
        ups = []
        for pix, n in zip(pixels, self.true_normals(pixels)):
            ups.append(-n if np.any(n) else normalize(self.points_cam[pix]))
        out = [(pix, up) for pix, up in zip(pixels, ups)]
        t = np.deg2rad(tilt_deg)
        for pix, up in zip(pixels, ups):
            a = random_forward(rng, up)
            for side in (a, np.cross(up, a), -a, -np.cross(up, a)):
                out.append((pix, normalize(np.cos(t) * up + np.sin(t) * side)))
        return [np.array([r, c, *up, *random_forward(rng, up)]) for (r, c), up in out[:k]]

    def expert_action(self, rng: np.random.Generator, normal_noise_deg: float = 0.0) -> np.ndarray:
        """[row, col, up, forward]: affordance-sampled pixel, up = -true normal (+ noise), forward a
        random unit vector orthogonal to up. All-NaN if the target has no affordance pixel."""
        pix = self.sample_pixel(rng)
        if pix is None:
            return np.full(ACTION_DIM, np.nan)
        n = self.true_normals([pix])[0]
        if not np.any(n):
            n = -normalize(self.points_cam[pix])  # fall back to the viewing ray
        up = -n
        if normal_noise_deg > 0:
            up = normalize(up + rng.normal(scale=np.deg2rad(normal_noise_deg), size=3))
        fw = random_forward(rng, up)
        return np.array([pix[0], pix[1], *up, *fw], dtype=np.float64)
