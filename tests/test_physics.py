"""Issue 13: the reference physics, the approach check, the unpulled-motion filter, failure reasons,
physics presets and overrides."""
import numpy as np
import pytest
from conftest import expert

from sim_envs.categories import ALL
from sim_envs.config import PHYSICS_PRESETS, PullEnvConfig, env_overrides
from sim_envs.outcome import at_limit, failure_reasons, joint_alignment

CFG = PullEnvConfig()
REASONS = ("no_contact", "approach_collision", "unpulled_motion", "touched_other_link", "blocked", "no_motion",
           "small_motion", "wrong_direction", "pixel_off_object", "pixel_outside_image", "invalid_action",
           "scene_invalid", "physics_nan")


def test_defaults_are_the_reference_physics():
    c = PullEnvConfig()
    assert c.object_gravity and c.friction == 4.0 and c.joint_damping == 10.0 and c.suction_stiffness == 45000.0
    assert c.check_approach and not c.count_unpulled
    legacy = PullEnvConfig(**env_overrides("legacy"))
    assert not legacy.object_gravity and legacy.friction is None and legacy.count_unpulled
    ref = PullEnvConfig(**env_overrides("reference"))
    assert ref.sim_freq == 500 and ref.steps(ref.pull_time) == 2000 and ref.steps(ref.approach_time) == 2000


@pytest.mark.parametrize("physics, overrides, message", [
    ("nope", (), "allowed: default, legacy, reference"),
    ("default", ("gravity=1",), "FIELD one of"),
    ("default", ("object_gravity=maybe",), "not a valid bool"),
    ("default", ("sim_freq=fast",), "not a valid int"),
    ("default", ("sim_freq=-5",), "sim_freq=-5"),
])
def test_bad_physics_settings_are_clear_errors(physics, overrides, message):
    with pytest.raises(ValueError, match=message):
        env_overrides(physics, overrides)


def test_overrides_parse_types_on_top_of_a_preset():
    got = env_overrides("legacy", ("object_gravity=true", "friction=none", "scale_range=0.5,0.6", "sim_freq=100"))
    assert got["object_gravity"] is True and got["friction"] is None and got["scale_range"] == (0.5, 0.6)
    assert got["sim_freq"] == 100 and got["suction_stiffness"] == PHYSICS_PRESETS["legacy"]["suction_stiffness"]


def test_joint_alignment_and_limits_by_hand():
    # prismatic along +x: a pull along +x opens it, along y does nothing, along -x closes it
    assert joint_alignment("prismatic", [0, 0, 0], [1, 0, 0], [5, 5, 5], np.array([1.0, 0, 0])) == pytest.approx(1)
    assert joint_alignment("prismatic", [0, 0, 0], [1, 0, 0], [5, 5, 5], np.array([0, 1.0, 0])) == pytest.approx(0)
    # hinge about z through the origin: a point on +x moves along +y when q grows
    assert joint_alignment("revolute", [0, 0, 0], [0, 0, 1], [1, 0, 0], np.array([0, 1.0, 0])) == pytest.approx(1)
    assert joint_alignment("revolute", [0, 0, 0], [0, 0, 1], [1, 0, 0], np.array([1.0, 0, 0])) == pytest.approx(0)
    assert at_limit(0.99, (0.0, 1.0), 0.8) and not at_limit(0.5, (0.0, 1.0), 0.8)
    assert at_limit(0.0, (0.0, 1.0), -0.8) and not at_limit(0.0, (0.0, 1.0), 0.8)


def _reasons(dq=0.0, dq_pre=0.0, contact=True, on_target=True, pulled=True, cosine=1.0, alignment=1.0,
             limit=False, count=False):
    from sim_envs.outcome import success_flags

    raw = success_flags(dq, 1.0, cosine, CFG)
    ok = raw if (pulled or count) else {"success": False, "success_manipllm": False}
    return ok, failure_reasons(ok, raw, CFG, contact=contact, on_target=on_target, pulled=pulled,
                               attached="base" if not on_target else "door", dq=dq, dq_pre=dq_pre,
                               cosine=cosine, alignment=alignment, at_limit=limit, joint_range=1.0)


@pytest.mark.parametrize("kwargs, primary, manipllm", [
    (dict(dq=0.5), "", ""),
    (dict(dq=0.5, cosine=0.1), "", "wrong_direction"),
    (dict(dq=0.0, contact=False, on_target=False, pulled=False), "no_contact", "no_contact"),
    (dict(dq=0.5, contact=False, on_target=False, pulled=False), "unpulled_motion", "unpulled_motion"),
    (dict(dq=0.5, on_target=False, pulled=False), "unpulled_motion", "unpulled_motion"),
    (dict(dq=0.0, on_target=False, pulled=False), "touched_other_link", "touched_other_link"),
    (dict(dq=0.3, dq_pre=0.3, pulled=False), "unpulled_motion", "unpulled_motion"),
    (dict(dq=0.0, limit=True), "blocked", "blocked"),
    (dict(dq=0.0, limit=True, alignment=0.05), "no_motion", "no_motion"),  # across the motion: no limit is pushed
    (dict(dq=0.0, alignment=0.9), "blocked", "blocked"),
    (dict(dq=0.0, alignment=0.1), "no_motion", "no_motion"),
    (dict(dq=0.05), "small_motion", ""),
    (dict(dq=0.05, cosine=0.0), "small_motion", "wrong_direction"),
    (dict(dq=0.02), "small_motion", "small_motion"),
])
def test_failure_reasons_by_hand(kwargs, primary, manipllm):
    ok, why = _reasons(**kwargs)
    assert why["failure_reason"].split(":")[0] == primary and bool(primary) == (not ok["success"])
    assert why["failure_reason_manipllm"].split(":")[0] == manipllm and bool(manipllm) == (not ok["success_manipllm"])


def test_count_unpulled_keeps_the_old_success():
    ok, why = _reasons(dq=0.5, on_target=False, pulled=False, count=True)
    assert ok["success"] and why["failure_reason"] == ""


def _random_actions(env, seed, n):
    """`n` actions aimed at random object pixels from random directions in front of the camera."""
    from sim_envs.geometry import random_approach

    rng = np.random.default_rng(seed)
    pix = np.argwhere(env.unwrapped._obs["object_mask"])
    out = []
    for k in rng.choice(len(pix), size=n):
        up, fw = random_approach(rng)
        out.append(np.array([*pix[k], *up, *fw], dtype=float))
    return out


def test_every_failure_has_a_reason_and_only_a_pull_succeeds(env):
    """Expert and random actions over every category: each failed trial names its reason (one of the
    documented ones), each success was pulled (suction on the target's subtree, no approach motion)
    and recorded its attached link; the unfiltered success is never below the counted one."""
    seen = set()
    for k, name in enumerate(ALL):
        for j, seed in enumerate((k, 100 + k)):
            obs, info = env.reset(seed=seed, options={"task": name, "split": "test"})
            action = expert(env, seed) if j == 0 else _random_actions(env, seed, 1)[0]
            info = env.step(action)[4]
            for crit, key in (("success", "failure_reason"), ("success_manipllm", "failure_reason_manipllm")):
                if not info[crit]:
                    word = info[key].split(":")[0]
                    assert word in REASONS, (name, info[key])
                    seen.add(word)
                else:
                    assert info[key] == ""
            if info["success"]:
                assert info["pulled"] and info["attached_link"] and not info["unpulled_motion"]
            if info["contact"]:
                assert info["attached_link"]
            assert info["success_unfiltered"] >= info["success"]
    assert {"approach_collision"} <= seen, seen  # random directions do collide


def test_a_colliding_approach_moves_nothing(env):
    """An approach that puts the hand inside the object ends at once, before any part moves."""
    for seed in range(40):
        obs, info = env.reset(seed=seed, options={"task": "drawer", "split": "test"})
        for action in _random_actions(env, seed, 3):
            env.reset(seed=seed, options={"task": "drawer", "split": "test"})
            out = env.step(action)[4]
            if out["failure_reason"].startswith("approach_collision"):
                assert out["sim_steps"] == 1 and out["dq"] == 0.0 and not out["success"]
                return
    pytest.fail("no colliding approach among 120 random ones")


def test_legacy_physics_turns_the_filters_off():
    from sim_envs import make_env

    env = make_env(PullEnvConfig(task="drawer", split="test", **env_overrides("legacy")))
    try:
        for seed in range(6):
            env.reset(seed=seed)
            info = env.step(_random_actions(env, seed, 1)[0])[4]
            assert not info["failure_reason"].startswith("approach_collision")
            assert info["success"] == info["success_unfiltered"]
    finally:
        env.close()


def test_target_mask_covers_the_target_subtree(env):
    """Links below the target (a knob on a door, a cap under a screw joint's slider) are the target to
    the eye: the mask shows every link of the subtree that is in view, and nothing else."""
    u = env.unwrapped
    env.reset(seed=0, options={"task": "drawer", "split": "test"})
    sub = u.articulated_object.subtree(u._target.link)
    assert u._target.link in sub and u.articulated_object.links[0] not in sub
    seg_ids = {link.entity.per_scene_id for link in sub}
    others = {link.entity.per_scene_id for link in u.articulated_object.links} - seg_ids
    assert seg_ids and not (seg_ids & others)


def _contact_stub(points, links):
    """A SuctionGripper stand-in whose contacts are `points`: (link index, position, separation) in the order PhysX
    would list them."""
    from types import SimpleNamespace

    def contacts(obj_links):
        for i, pos, sep in points:
            yield links[i], SimpleNamespace(points=[SimpleNamespace(position=np.array(pos, np.float32),
                                                                    separation=np.float32(sep))])
    return SimpleNamespace(cfg=CFG, _contacts_with=contacts)


@pytest.mark.parametrize("order", [(0, 1, 2), (1, 0, 2), (2, 1, 0)])
def test_the_touched_link_does_not_depend_on_the_order_of_contacts(order):
    """A fingertip on the seam between two parts touches both at one point, exactly as near to the intended point:
    measured on a Refrigerator episode (door_main / door_freezer), where PhysX's order of contacts, which changes
    with what the worker process simulated before, decided which door the suction held. The nearer surface (the
    smaller separation) wins, then the name; a nearer point still wins outright."""
    from sim_envs.suction import SuctionGripper

    links = [type("Link", (), {"name": n})() for n in ("door_main", "door_freezer", "body")]
    p = np.zeros(3)
    seam = [(0, (0.003, 0.004, 0.0), 0.0074), (1, (0.003, 0.004, 0.0), 0.0030), (2, (0.0, 0.006, 0.0), -0.001)]
    link, point = SuctionGripper.touched_link(_contact_stub([seam[i] for i in order], links), links, p)
    assert link.name == "door_freezer" and np.allclose(point, (0.003, 0.004, 0.0))
    same = [(0, (0.003, 0.004, 0.0), 0.002), (1, (0.0, 0.005, 0.0), 0.002)]  # equal distance and separation: name
    for pts in (same, same[::-1]):
        assert SuctionGripper.touched_link(_contact_stub(pts, links), links, p)[0].name == "door_freezer"
    nearer = [(0, (0.001, 0.0, 0.0), 0.009), *seam]  # nearest wins whatever its separation
    assert SuctionGripper.touched_link(_contact_stub(nearer, links), links, p)[0].name == "door_main"
    far = [(0, (0.003, 0.004, 0.0), CFG.contact_max_distance)]  # not touching
    assert SuctionGripper.touched_link(_contact_stub(far, links), links, p) == (None, None)
