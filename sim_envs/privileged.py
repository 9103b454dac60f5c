"""Privileged ground truth: affordance map, true surface normals, the two experts (docs/protocol.md section 5).

- `reference_action`: the reference protocol's action, which data collection samples: a pixel drawn from
  the affordance map, approached along minus its true surface normal.
- `expert_action`: the expert of the oracle, the openability check and the search ceiling's first try.
  It pulls where the part's motion goes: each candidate pixel of the target part is scored by how well
  pulling along its outward normal moves the part the way its joint has room to go, and kept only when
  rays along the gripper's footprint find the approach free and the fingers land on the target part.
  Static geometry and ray casts only: nothing is stepped, nothing is tried.

Learned agents never see any of this.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import ACTION_DIM
from .geometry import normalize, orthonormal_forward, random_forward, world_to_camera

REVOLUTE_MIN_AXIS_DISTANCE = 0.6  # revolute parts: only pixels beyond this normalised distance

# The motion-aware expert (expert_action).
PLAN_PIXELS = 400  # target pixels scored per episode (an even subsample of the part's pixels)
PLAN_CHECKS = 80  # best-scored pixels whose approach is ray-checked, at most
PLAN_SIZE = 12  # pixels in the shortlist, at most
PLAN_KEEP = 0.8  # keep the clear pixels scoring >= this fraction of the best clear score
PLAN_MIN_SCORE = 0.1  # a pull whose score is lower moves the part too little to count
ROLLS = 8  # gripper rolls checked per pixel, evenly over half a turn (the hand is symmetric)
RAY_TOP = 0.2  # m above the contact plane where the checking rays start
# Columns of the floating Panda gripper (hand frame x, y in m) and the height above the contact plane
# (m) from which an obstacle in that column is hit during the approach: the closed fingers
# (|x| <= 0.011, |y| <= 0.027) reach the surface at the approach pose and sit 0.037 m above it at the
# pre-pose; the hand body (|x| <= 0.032, |y| <= 0.104) stays 0.034 m above it (measured from the
# gripper's collision shapes, sim_envs.suction's offsets 0.15 and 0.10).
FINGER_COLUMNS = tuple((x, y) for x in (0.0, 0.01, -0.01) for y in (0.0, 0.025, -0.025))  # the centre first
FINGER_OTHER_LINK_HEIGHT = 0.012  # another link above this height is hit before the target is reached
FINGER_ANY_HEIGHT = 0.037  # anything above this (the target too) overlaps the fingers at the pre-pose
HAND_COLUMNS = tuple((x, y) for x in (0.0, 0.03, -0.03) for y in (0.0, 0.05, -0.05, 0.1, -0.1) if (x, y) != (0.0, 0.0))
HAND_HEIGHT = 0.034


@dataclass
class PullPlan:
    """The expert's shortlist for one episode: pixels whose pull moves the part and whose approach
    is free, best first, with the gripper rolls that fit. Deterministic (no random draw)."""

    pixels: np.ndarray  # (M, 2) int (row, col)
    ups: np.ndarray  # (M, 3) approach axes, camera frame (minus the outward normal)
    scores: np.ndarray  # (M,) alignment of the pull with the part's motion, times the lever (revolute)
    forwards: np.ndarray  # (M, ROLLS, 3) gripper x axes, camera frame
    clear: np.ndarray  # (M, ROLLS) bool: that roll's footprint is free

    @classmethod
    def empty(cls) -> PullPlan:
        return cls(np.zeros((0, 2), np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros((0, ROLLS, 3)),
                   np.zeros((0, ROLLS), bool))

    def __len__(self) -> int:
        return len(self.scores)


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
    _target_links: object  # the target part's link components (what a ray may hit to count as on target)
    joint_q: float = 0.0  # the target joint's position now
    joint_limits: tuple = (-np.inf, np.inf)
    min_travel: float = 0.1  # the success threshold |dq| (m or rad): a direction needs this much room
    _plan: PullPlan | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env) -> PrivilegedView:
        env = getattr(env, "unwrapped", env)
        T = env._obs["cam2world"].astype(np.float64)
        target = env._target
        pt, d = target.axis_world()
        return cls(env._points_cam, env._obs["target_mask"], env._obs["object_mask"], T,
                   env._obs["intrinsics"].astype(np.float64),
                   target.type, world_to_camera(T, pt), T[:3, :3].T @ d,
                   env._sscene.physx_system.raycast, frozenset(env._target_links),
                   float(env.articulated_object.qpos()[target.dof]), tuple(map(float, target.limits)),
                   float(env.cfg.success_dq))

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
        points = self.points_cam[px[:, 0], px[:, 1]] if len(px) else np.zeros((0, 3))
        todo = np.flatnonzero(points[:, 2] > 0)
        if not len(todo):
            return out
        K = self.intrinsics
        # geometry.lift_pixel at depth 1, then normalize, for all rows at once (the same float operations)
        lifted = np.stack([(px[todo, 1] + 0.5 - K[0, 2]) / K[0, 0], (px[todo, 0] + 0.5 - K[1, 2]) / K[1, 1],
                           np.ones(len(todo))], axis=1)
        directions = normalize(np.array([R @ d for d in lifted])).astype(np.float32)
        origin = t.astype(np.float32)
        hit_rows, hit_normals = [], []
        for i, direction in zip(todo, directions):
            p = points[i]
            hit = self._raycast(origin, direction, float(2 * np.linalg.norm(p) + 1.0))
            if hit is None:
                continue
            n = R.T @ np.asarray(hit.normal, dtype=np.float64)
            hit_rows.append(i)
            hit_normals.append(-n if np.dot(n, p) > 0 else n)  # make it face the camera
        if hit_rows:
            out[hit_rows] = normalize(np.array(hit_normals))
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

    def reference_action(self, rng: np.random.Generator, normal_noise_deg: float = 0.0) -> np.ndarray:
        """The reference protocol's action, [row, col, up, forward]: affordance-sampled pixel, up = -true
        normal (+ noise), forward a random unit vector orthogonal to up. All-NaN if the target has no
        affordance pixel. Data collection samples this (the demos keep the protocol's meaning)."""
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

    # ------------------------------------------------------------------ the motion-aware expert
    def motion(self, points_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(unit direction (N, 3), lever (N,)) in which the points move as the target joint's position
        grows: the axis for a prismatic joint (lever 1), axis x (point - axis point) for a revolute one
        (lever: the distance from the axis)."""
        p = np.asarray(points_cam, np.float64).reshape(-1, 3)
        if self.joint_type != "revolute":
            return np.broadcast_to(self.axis_dir_cam, p.shape).copy(), np.ones(len(p))
        v = np.cross(self.axis_dir_cam, p - self.axis_point_cam)
        lever = np.linalg.norm(v, axis=1)
        return v / np.maximum(lever, 1e-9)[:, None], lever

    def directions_with_room(self) -> tuple[int, ...]:
        """The signs of joint motion (+1 opening towards the upper limit, -1 towards the lower) with
        room for more than the success threshold; if neither has, the one with more room."""
        lo, hi = self.joint_limits
        room = {+1: hi - self.joint_q, -1: self.joint_q - lo}
        ok = tuple(s for s in (+1, -1) if room[s] > self.min_travel)
        return ok or (max(room, key=room.get),)

    def pull_scores(self, pixels, normals) -> np.ndarray:
        """(N,) how well pulling each pixel along its outward normal moves the part: the cosine
        between the pull and the point's motion (in a direction with room), times the lever relative
        to the part's farthest scored pixel for a revolute joint (capped at 1 from 0.6 of it)."""
        px = np.asarray(pixels, np.int64).reshape(-1, 2)
        v, lever = self.motion(self.points_cam[px[:, 0], px[:, 1]])
        cos = np.einsum("ij,ij->i", np.asarray(normals, np.float64), v)
        align = np.max([s * cos for s in self.directions_with_room()], axis=0)
        score = np.clip(align, 0.0, None)
        if self.joint_type == "revolute" and lever.max() > 0:
            score = score * np.minimum(1.0, lever / (REVOLUTE_MIN_AXIS_DISTANCE * lever.max()))
        score[~np.any(normals, axis=1)] = 0.0  # no geometry under the pixel
        return score

    def _column_hits(self, origins: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rays cast from `origins` (N, 3), RAY_TOP above the contact plane, along `down`: the
        height above the plane of each first hit (-inf where nothing is hit) and whether it is on the
        target part."""
        d = down.astype(np.float32)
        heights, on_target = np.full(len(origins), -np.inf), np.zeros(len(origins), bool)
        for i, o in enumerate(origins.astype(np.float32)):
            hit = self._raycast(o, d, RAY_TOP + 0.05)
            if hit is not None:
                heights[i], on_target[i] = RAY_TOP - hit.distance, hit.component in self._target_links
        return heights, on_target

    def approach_clear(self, pixel, up_cam: np.ndarray, forwards_cam: np.ndarray) -> np.ndarray:
        """(len(forwards_cam),) bool: for the gripper approaching `pixel` along `up_cam` with each
        roll, rays along its footprint's columns find nothing in the gripper's way and the fingers
        land on the target part."""
        R, t = self.cam2world[:3, :3], self.cam2world[:3, 3]
        up = R @ up_cam
        top = R @ self.points_cam[pixel[0], pixel[1]] + t - RAY_TOP * up
        (surface,), (on_target,) = self._column_hits(top[None], up)  # where the fingers stop
        if not on_target or surface > FINGER_ANY_HEIGHT:
            return np.zeros(len(forwards_cam), bool)  # the central ray must meet the target part
        fw = np.asarray(forwards_cam, np.float64) @ R.T  # (K, 3) world
        side = np.cross(up, fw)
        cols = np.array(FINGER_COLUMNS[1:] + HAND_COLUMNS)  # (C, 2); the centre is checked above
        origins = top + cols[None, :, :1] * fw[:, None] + cols[None, :, 1:] * side[:, None]  # (K, C, 3)
        h, on_target = (a.reshape(len(fw), len(cols)) for a in self._column_hits(origins.reshape(-1, 3), up))
        fingers = np.arange(len(cols)) < len(FINGER_COLUMNS) - 1
        blocked = np.where(fingers, (h > FINGER_ANY_HEIGHT)
                           | ((h > max(surface, 0.0) + FINGER_OTHER_LINK_HEIGHT) & ~on_target), h > HAND_HEIGHT)
        return ~blocked.any(axis=1)

    def pull_plan(self) -> PullPlan:
        """The expert's shortlist (computed once per view): up to PLAN_PIXELS target pixels scored by
        `pull_scores`, taken best first (scores in steps of 0.05; within a step in a fixed shuffled
        order, so the shortlist spreads over the part) and ray-checked for every roll until PLAN_SIZE
        have a free roll, or PLAN_CHECKS were checked, or the scores fall under PLAN_KEEP of the first
        free one's."""
        if self._plan is not None:
            return self._plan
        plan = PullPlan.empty()
        pix = np.argwhere(self.target_mask)
        if len(pix):
            pix = pix[np.unique(np.linspace(0, len(pix) - 1, min(len(pix), PLAN_PIXELS)).astype(np.int64))]
            normals = self.true_normals(pix)
            scores = self.pull_scores(pix, normals)
            shuffled = np.random.default_rng(len(pix)).permutation(len(pix))
            order = shuffled[np.argsort(-np.floor(scores[shuffled] * 20), kind="stable")]
            angles = np.pi * np.arange(ROLLS) / ROLLS
            rows, best = [], None
            for i in order[:PLAN_CHECKS]:
                if scores[i] < PLAN_MIN_SCORE or len(rows) == PLAN_SIZE or (
                        best is not None and scores[i] < PLAN_KEEP * best):
                    break
                up = -normals[i]
                base = _perpendicular(up)
                fws = np.cos(angles)[:, None] * base + np.sin(angles)[:, None] * np.cross(up, base)
                clear = self.approach_clear(pix[i], up, fws)
                if clear.any():
                    best = scores[i] if best is None else best
                    rows.append((pix[i], up, scores[i], fws, clear))
            if rows:
                plan = PullPlan(*(np.array(col) for col in zip(*rows)))
        self._plan = plan
        return plan

    def expert_action(self, rng: np.random.Generator, normal_noise_deg: float = 0.0) -> np.ndarray:
        """[row, col, up, forward]: a pixel drawn uniformly from `pull_plan`, up = minus its true
        normal (+ noise), forward one of its free rolls drawn uniformly. Where the plan is empty (no
        pixel both moves the part and lets the gripper in), the reference action. All-NaN if the
        target shows no pixel at all."""
        plan = self.pull_plan()
        if not len(plan):
            return self.reference_action(rng, normal_noise_deg)
        i = int(rng.integers(len(plan)))
        k = int(rng.choice(np.flatnonzero(plan.clear[i])))
        up, fw = plan.ups[i], plan.forwards[i, k]
        if normal_noise_deg > 0:
            up = normalize(up + rng.normal(scale=np.deg2rad(normal_noise_deg), size=3))
            fw = orthonormal_forward(up, fw)
        return np.array([*plan.pixels[i], *up, *fw], dtype=np.float64)


def _perpendicular(v: np.ndarray) -> np.ndarray:
    """A fixed unit vector orthogonal to the unit vector v."""
    a = np.array([1.0, 0.0, 0.0]) if abs(v[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    return orthonormal_forward(v, a)
