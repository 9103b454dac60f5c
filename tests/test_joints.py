"""Joint labels and articulation flow: a hand-computed case, and the simulator's own motion."""
import numpy as np
import pytest

from sim_envs.joints import articulation_flow, camera_flow, governing_joint

# links: 0 base, 1 drawer (prismatic), 2 door (revolute), 3 the door's handle
DRAWER = {"type": "prismatic", "moves": [1], "axis_world": [-2.0, 0.0, 0.0], "origin_world": [5.0, 5.0, 5.0]}
DOOR = {"type": "revolute", "moves": [2, 3], "axis_world": [0.0, 0.0, 1.0], "origin_world": [0.0, 1.0, 0.0]}


def test_flow_by_hand_prismatic_and_revolute():
    pts = np.array([[0.3, 0.2, 0.1],   # base
                    [1.0, 2.0, 3.0],   # drawer: the (unit) axis, wherever the point is
                    [0.0, 0.0, 0.5],   # door, 1 m from its hinge (x = 0, y = 1)
                    [0.0, -1.0, 0.2],  # the door's handle, 2 m from the hinge
                    [9.0, 9.0, 9.0]])  # background
    link = np.array([1, 2, 3, 4, 0])  # link-map values: 1 + link index, 0 = none
    raw = articulation_flow(pts, link, [DRAWER, DOOR], normalise=False)
    # z x (p - o): door point (0, -1, .5) -> (1, 0, 0); handle (0, -2, .2) -> (2, 0, 0)
    np.testing.assert_allclose(raw, [[0, 0, 0], [-1, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 0]], atol=1e-12)
    flow = articulation_flow(pts, link, [DRAWER, DOOR])
    np.testing.assert_allclose(flow, [[0, 0, 0], [-1, 0, 0], [0.5, 0, 0], [1, 0, 0], [0, 0, 0]], atol=1e-12)


def test_the_innermost_joint_moves_a_point():
    handle = {"type": "prismatic", "moves": [3], "axis_world": [0, 1, 0], "origin_world": [0, 0, 0]}
    np.testing.assert_array_equal(governing_joint(np.array([3, 4, 1, 0]), [DRAWER, DOOR, handle]), [1, 2, -1, -1])


def test_camera_frame_flow_is_the_rotated_world_flow():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = q * np.sign(np.linalg.det(q)), [0.5, -1, 2]
    pts_cam = rng.normal(size=(6, 3))
    link = np.array([2, 3, 3, 4, 1, 0])
    world = pts_cam @ T[:3, :3].T + T[:3, 3]
    expect = articulation_flow(world, link, [DRAWER, DOOR]) @ T[:3, :3]
    np.testing.assert_allclose(camera_flow(pts_cam, link, [DRAWER, DOOR], T), expect, atol=1e-12)


@pytest.mark.parametrize("task", ["drawer", "door"])
def test_labels_predict_how_the_simulated_part_moves(env, task):
    """Opening the target joint a little in SAPIEN moves its pixels' points along the labelled flow."""
    from sim_envs.geometry import camera_to_world

    u = env.unwrapped
    env.reset(seed=3, options={"task": task, "split": "test"})
    labels = u.joint_labels()
    joints, lm = labels["joints"], labels["link_map"]
    assert lm.shape == u._obs["depth"].shape and lm.dtype == np.uint16
    np.testing.assert_array_equal(lm > 0, u._obs["object_mask"])
    target = next(j for j in joints if j["name"] == u._target.name)
    assert target["type"] == ("prismatic" if task == "drawer" else "revolute")
    rows, cols = np.nonzero(np.isin(lm, np.asarray(target["link"]) + 1))
    assert len(rows) > 20
    T = u._obs["cam2world"].astype(np.float64)
    p0 = np.stack([camera_to_world(T, u.points_cam[r, c]) for r, c in zip(rows, cols)])
    flow = articulation_flow(p0, lm[rows, cols], joints, normalise=False)
    link = u._target.link
    pose0 = link.entity.pose.to_transformation_matrix()
    q = u.articulated_object.qpos()
    eps = 1e-3
    q[target["dof"]] += eps
    u.articulated_object.set_qpos(q)
    pose1 = link.entity.pose.to_transformation_matrix()
    moved = (p0 @ pose0[:3, :3] - pose0[:3, 3] @ pose0[:3, :3]) @ pose1[:3, :3].T + pose1[:3, 3]  # same body point
    np.testing.assert_allclose((moved - p0) / eps, flow, atol=2e-3 * max(1.0, np.abs(flow).max()))
    assert np.abs(flow).max() > 0.05
