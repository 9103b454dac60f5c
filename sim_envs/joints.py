"""Joint labels of an episode and the articulation flow they define (privileged: collection-time labels
for training, never an agent's input at evaluation).

The labels of one observation:
- a link map: (H, W) uint16, 0 where no object link shows, else 1 + the link's index in the
  articulation's link list;
- every movable joint (finite limits): its type, qpos index, child link, the links that move with it
  (its subtree), a point on its axis and the axis direction (world frame), its state q and limits.

Articulation flow (FlowBot3D, Eisner et al. 2022): the instantaneous motion of each surface point when the
joint that moves it opens (q increases; a joint's lower limit is closed, sim_envs.episode): along the
axis for a prismatic joint, axis x (p - origin) for a revolute one. A point moved by several joints (a
handle on a door in a cabinet) takes its innermost one, the smallest subtree holding its link, so each
part moves under its own joint. Each part's flow is then divided by its largest norm on the given
points, so its maximum is 1 (the paper's normalisation); points of the fixed base get zero.
"""
from __future__ import annotations

import numpy as np

LINK_MAP_BACKGROUND = 0


def link_map(seg: np.ndarray, link_seg_ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) uint16: 1 + index into `link_seg_ids` of the link whose render id each pixel shows, 0 elsewhere."""
    out = np.zeros(seg.shape, np.uint16)
    for k, sid in enumerate(np.asarray(link_seg_ids).tolist()):
        out[(seg == sid) & valid] = k + 1
    return out


def joint_records(obj) -> list[dict]:
    """Every movable joint of an ArticulatedObject (sim_envs.articulated) at its current state, as JSON types."""
    links = list(obj.links)
    index = {id(link): k for k, link in enumerate(links)}
    q = obj.qpos()
    out = []
    for j in obj.joints:
        origin, axis = j.axis_world()
        out.append({"name": j.name, "type": j.type, "dof": int(j.dof), "link": index[id(j.link)],
                    "moves": sorted(index[id(link)] for link in obj.subtree(j.link)),
                    "origin_world": [float(v) for v in origin], "axis_world": [float(v) for v in axis],
                    "q": float(q[j.dof]), "limits": [float(v) for v in j.limits]})
    return out


def governing_joint(link_index: np.ndarray, joints: list[dict]) -> np.ndarray:
    """(N,) index into `joints` of the innermost joint moving each link index (1-based, the link map's
    values), -1 for the base, the background and links no joint moves."""
    out = np.full(np.shape(link_index), -1, np.int64)
    size = np.full(np.shape(link_index), np.inf)
    for k, j in enumerate(joints):
        moved = np.isin(link_index, np.asarray(j["moves"], np.int64) + 1)
        better = moved & (len(j["moves"]) < size)
        out[better] = k
        size[better] = len(j["moves"])
    return out


def articulation_flow(points_world: np.ndarray, link_index: np.ndarray, joints: list[dict],
                      normalise: bool = True) -> np.ndarray:
    """(N, 3) world-frame flow of points (N, 3) with their link-map values (N,), see the module doc."""
    p = np.asarray(points_world, np.float64).reshape(-1, 3)
    which = governing_joint(np.asarray(link_index).reshape(-1), joints)
    flow = np.zeros_like(p)
    for k, j in enumerate(joints):
        sel = which == k
        if not sel.any():
            continue
        axis = np.asarray(j["axis_world"], np.float64)
        axis = axis / np.linalg.norm(axis)
        if j["type"] == "prismatic":
            f = np.broadcast_to(axis, (int(sel.sum()), 3)).copy()
        else:
            f = np.cross(axis, p[sel] - np.asarray(j["origin_world"], np.float64))
        if normalise:
            top = np.linalg.norm(f, axis=1).max()
            f = f / top if top > 0 else f
        flow[sel] = f
    return flow


def camera_flow(points_cam: np.ndarray, link_index: np.ndarray, joints: list[dict], cam2world: np.ndarray,
                normalise: bool = True) -> np.ndarray:
    """articulation_flow of camera-frame points, returned in the camera frame (OpenCV axes)."""
    T = np.asarray(cam2world, np.float64).reshape(4, 4)
    R, t = T[:3, :3], T[:3, 3]
    world = np.asarray(points_cam, np.float64).reshape(-1, 3) @ R.T + t
    return articulation_flow(world, link_index, joints, normalise) @ R
