"""The two privileged experts: the motion-aware expert's rules on hand-made geometry, its detached twin,
and what it changes in the simulator against the reference protocol's action."""
from types import SimpleNamespace

import numpy as np
import pytest

from evaluation.simulate import DetachedPrivilegedView
from sim_envs import privileged as pv
from sim_envs.privileged import PrivilegedView

SIZE = 40
TARGET, OTHER = "target", "other"


def _scene(obstacle_height: float | None = None, obstacle_link: str = OTHER, obstacle_offset=(0.0, 0.06)):
    """A view of a flat 0.4 m square plate at z = 0 (the target part, normal +z, world = camera frame
    but for the camera looking down -z from z = 1), and optionally an obstacle: a horizontal slab at
    `obstacle_height` over x >= obstacle_offset[1] (a shelf the hand would hit). The ray caster answers
    from this geometry alone."""
    H = W = SIZE
    xs = (np.arange(W) - W / 2 + 0.5) * 0.01
    # camera at z = 1 looking down: camera frame x = world x, y = -world y, z = -world z + 1
    cam2world = np.eye(4)
    cam2world[:3, :3] = np.diag([1.0, -1.0, -1.0])
    cam2world[2, 3] = 1.0
    pts_world = np.stack([*np.meshgrid(xs, -xs, indexing="xy"), np.zeros((H, W))], axis=-1)
    pts_cam = (pts_world - cam2world[:3, 3]) @ cam2world[:3, :3]

    def raycast(origin, direction, dist):
        o, d = np.asarray(origin, float), np.asarray(direction, float)
        hits = []
        if d[2] < 0:  # plate, then the slab, both horizontal
            t = -o[2] / d[2]
            if 0 <= t <= dist and abs(o[0] + t * d[0]) <= 0.2 and abs(o[1] + t * d[1]) <= 0.2:
                hits.append((t, TARGET))
            if obstacle_height is not None and o[2] > obstacle_height:
                t = (obstacle_height - o[2]) / d[2]
                if 0 <= t <= dist and (o[0] + t * d[0]) >= obstacle_offset[1]:
                    hits.append((t, obstacle_link))
        if not hits:
            return None
        t, link = min(hits)
        return SimpleNamespace(distance=t, normal=np.array([0, 0, 1.0], np.float32), component=link)

    view = PrivilegedView(pts_cam, np.ones((H, W), bool), np.ones((H, W), bool), cam2world, np.eye(3),
                          "prismatic", np.zeros(3), cam2world[:3, :3].T @ np.array([0, 0, 1.0]), raycast,
                          frozenset({TARGET}), joint_q=0.0, joint_limits=(0.0, 0.5), min_travel=0.1)
    view.true_normals = lambda pixels: np.tile(cam2world[:3, :3].T @ np.array([0, 0, 1.0]),
                                               (len(np.atleast_2d(pixels)), 1))
    return view


def test_the_pull_is_scored_by_the_motion_it_causes():
    view = _scene()
    n = view.true_normals([[0, 0]])
    assert view.pull_scores([[5, 5]], n) == pytest.approx([1.0])  # pull along the normal = along the axis
    view.joint_q = 0.45  # 0.05 of room left towards the upper limit, 0.45 towards the lower
    assert view.directions_with_room() == (-1,)
    assert view.pull_scores([[5, 5]], n) == pytest.approx([0.0])  # the pull would push it into its limit
    view.axis_dir_cam = np.array([1.0, 0, 0])  # motion across the pull
    view.joint_q = 0.0
    assert view.pull_scores([[5, 5]], n) == pytest.approx([0.0], abs=1e-12)


def test_a_revolute_pull_prefers_the_lever():
    view = _scene()
    view.joint_type = "revolute"
    view.axis_point_cam = view.points_cam[20, 0]  # hinge along the plate's left edge (camera y axis)
    view.axis_dir_cam = np.array([0.0, 1.0, 0.0])  # opening (q up) lifts the plate towards the camera
    pixels = np.array([[20, 2], [20, 10], [20, 39]])
    scores = view.pull_scores(pixels, view.true_normals(pixels))
    assert scores[0] < scores[1] < scores[2] == pytest.approx(1.0)  # capped at 0.6 of the longest lever
    assert np.all(scores > 0)


def test_the_approach_check_sees_a_shelf_over_the_hand_but_not_under_it():
    fws = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # hand y (the long side) along camera y, then along x
    up = -np.array([0, 0, -1.0])  # minus the normal (+z world = -z camera)
    pixel = (20, 20)  # the plate's centre; the shelf starts 0.06 m to the right (+x)
    assert _scene().approach_clear(pixel, up, fws).all()
    clear = _scene(obstacle_height=0.1).approach_clear(pixel, up, fws)
    # forward along x: the hand's 0.104 m half-width lies along y, so only its 0.03 m depth reaches x
    # forward along y: the hand's long side runs along x, under the shelf
    assert clear.tolist() == [True, False]
    assert _scene(obstacle_height=0.02).approach_clear(pixel, up, fws).all()  # under the hand's height
    assert not _scene(obstacle_height=0.02, obstacle_offset=(0, -0.5)).approach_clear(pixel, up, fws).any()
    # a part of the target itself over the pixel: the fingers would overlap it at the pre-pose
    assert not _scene(obstacle_height=0.05, obstacle_link=TARGET, obstacle_offset=(0, -0.5)
                      ).approach_clear(pixel, up, fws).any()


def test_the_expert_draws_from_its_shortlist_and_avoids_the_shelf():
    view = _scene(obstacle_height=0.1, obstacle_offset=(0, 0.0))  # a shelf over the plate's right half
    plan = view.pull_plan()
    assert 0 < len(plan) <= pv.PLAN_SIZE and plan.clear.any(axis=1).all()
    x = view.points_cam[plan.pixels[:, 0], plan.pixels[:, 1], 0]
    assert np.all(x < 0)  # every shortlisted pixel keeps the hand clear of the shelf
    for seed in range(5):
        a = view.expert_action(np.random.default_rng(seed))
        assert tuple(a[:2].astype(int)) in {tuple(p) for p in plan.pixels}
        assert np.allclose(a[2:5], [0, 0, 1.0]) and abs(np.dot(a[2:5], a[5:8])) < 1e-9
    blocked = _scene(obstacle_height=0.1, obstacle_offset=(0, -1.0))  # the shelf covers everything
    assert len(blocked.pull_plan()) == 0
    np.testing.assert_array_equal(blocked.expert_action(np.random.default_rng(3)),
                                  blocked.reference_action(np.random.default_rng(3)))  # the fallback


def test_the_detached_view_chooses_the_live_views_actions(env):
    for seed in range(3):
        env.reset(seed=700 + seed)
        live = env.unwrapped.privileged()
        detached = DetachedPrivilegedView.detach(live)
        for method in ("expert_action", "reference_action"):
            np.testing.assert_array_equal(getattr(detached, method)(np.random.default_rng(seed)),
                                          getattr(live, method)(np.random.default_rng(seed)))


def test_the_motion_aware_expert_opens_what_the_reference_action_pulls_across(env):
    """Suitcase lids: the reference action's pixel often lands on the lid's side, whose normal runs
    across the lid's swing; the expert pulls where the lid moves."""
    reference, motion = [], []
    for seed in range(8):
        for method, out in (("reference_action", reference), ("expert_action", motion)):
            env.reset(seed=seed, options={"task": "Suitcase"})
            view = env.unwrapped.privileged()
            out.append(env.step(getattr(view, method)(np.random.default_rng(seed)))[4]["success"])
    assert sum(motion) >= 7 and sum(motion) >= sum(reference) + 3, (reference, motion)
