"""What a pull achieved: the success criteria, the failure reasons, and the outcome record's schema
(docs/protocol.md section 4).

The pull primitive (sim_envs.suction) measures; this module judges. `judge` turns the measurements of
an executed pull into the outcome record; `not_executed` is the same record for an episode where
nothing moved (an invalid action, a pixel off the object, a broken scene, or, in the evaluator, an
agent that failed or a worker that died). Every outcome, executed or not, has every field of
`Outcome` that applies, so a table never meets a record without its success flags or reasons.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

ALIGNED = 0.3  # |alignment| at or above this: the pull drives the joint (failure reasons)


class Outcome(TypedDict, total=False):
    """The outcome part of an episode's info (and of its evaluation record)."""

    success: bool  # RoboMamba's criterion: |dq| > success_dq, the motion caused by the pull
    success_manipllm: bool  # ManipLLM's: (|dq| > manipllm_dq or |dq|/range > fraction) and cosine > threshold
    failure_reason: str  # '' on success; else '<reason>: <detail>' (the first that applies, docs section 4)
    failure_reason_manipllm: str  # the same under ManipLLM's criterion
    success_unfiltered: bool  # the criterion before the only-the-pull-counts filter
    success_manipllm_unfiltered: bool
    contact: bool  # the suction found a contact with the object
    attached_link: str  # the link it held ('' without contact)
    pulled: bool  # the suction held the target part and the approach did not already move it
    unpulled_motion: bool  # a criterion was met by motion the pull did not cause
    dq: float  # target joint change over the whole primitive (m or rad)
    dq_pre: float  # the change before the suction attached
    cosine: float  # cosine(pull direction, displacement of the held point)
    alignment: float  # cosine(pull direction, the held point's opening motion); executed pulls only
    suction_stretch: float  # m between the suction's anchors at the end; executed pulls only
    joint_range: float  # the target joint's range (absent where no episode was built)
    sim_steps: int  # physics steps the primitive ran
    action: list[float]  # the 8 numbers the environment executed (absent when the action did not parse)
    pixel_on_target: bool  # the action's pixel lies on the target part's mask (the reference code's test)
    contact_point: list[float]  # the world point of the chosen pixel; executed pulls only
    pull_direction: list[float]  # -up, world frame; executed pulls only
    qpos_final: list[float]  # the object's joint state at the end


@dataclass
class PullMeasurements:
    """What the primitive measured (sim_envs.suction.SuctionGripper.pull)."""

    finite: bool  # the simulation state stayed finite
    overlap: str | None  # the object link the gripper overlapped at its pre-pose (then nothing ran)
    touched: str | None  # the link the suction held, None without contact
    on_target: bool  # that link belongs to the target part
    attach: np.ndarray | None  # world point the suction held
    displacement: np.ndarray | None  # how far that point moved (world)
    axis_point: np.ndarray | None  # the target joint's axis (world) when the suction attached
    axis_dir: np.ndarray | None
    q0: np.ndarray  # object joint state before, at attachment, and at the end
    q_attach: np.ndarray
    q1: np.ndarray
    stretch: float
    steps: int


def success_flags(dq: float, joint_range: float, cosine: float, cfg) -> dict:
    """Both published criteria from a joint change |dq|, the joint's range and the direction cosine."""
    adq = abs(float(dq))
    frac = adq / joint_range if joint_range > 0 else 0.0
    return {
        "success": bool(adq > cfg.success_dq),
        "success_manipllm": bool((adq > cfg.manipllm_dq or frac > cfg.manipllm_range_fraction)
                                 and cosine > cfg.manipllm_cosine),
    }


def joint_alignment(joint_type: str, axis_point, axis_dir, point, pull_dir) -> float:
    """Cosine between the pull direction and the direction in which `point` moves when the joint
    opens (q increases): 1 = the pull drives the joint open, 0 = across its motion, -1 = closing."""
    axis_dir = np.asarray(axis_dir, dtype=np.float64)
    if joint_type == "prismatic":
        v = axis_dir
    else:
        v = np.cross(axis_dir, np.asarray(point, dtype=np.float64) - np.asarray(axis_point, dtype=np.float64))
    n = np.linalg.norm(v) * np.linalg.norm(pull_dir)
    return float(np.dot(v, pull_dir) / n) if n > 1e-9 else 0.0


def at_limit(q: float, limits, alignment: float, fraction: float = 0.02) -> bool:
    """The joint sits within `fraction` of its range of the limit the pull pushes it towards."""
    lo, hi = limits
    margin = fraction * (hi - lo)
    return bool(q >= hi - margin) if alignment >= 0 else bool(q <= lo + margin)


def failure_reasons(ok: dict, raw: dict, cfg, *, contact: bool, on_target: bool,
                    pulled: bool, attached: str, dq: float, dq_pre: float, cosine: float,
                    alignment: float, at_limit: bool, joint_range: float) -> dict:
    """Why an executed episode failed, under each criterion ("" where it succeeded): the first of
    no_contact, unpulled_motion, touched_other_link, blocked, no_motion, small_motion, wrong_direction
    that applies (docs/protocol.md section 4)."""
    adq = abs(dq)
    if not contact:
        moved = f" (yet |dq| = {adq:.3f})" if adq > cfg.motion_noise_dq else ""
        common = f"no_contact: the gripper touched nothing{moved}"
    elif not on_target:
        common = f"touched_other_link: the suction held {attached}"
    else:
        common = ""
    if not pulled and (raw["success"] or raw["success_manipllm"]):  # moved, but not by the pull
        how = ("without suction contact" if not contact else f"while the suction held {attached}" if not on_target
               else f"by the approach (|dq| = {abs(dq_pre):.3f} before the pull)")
        common = f"unpulled_motion: the target moved {how}"
    if common:
        return {"failure_reason": "" if ok["success"] else common,
                "failure_reason_manipllm": "" if ok["success_manipllm"] else common}
    if adq <= cfg.motion_noise_dq:
        if abs(alignment) < ALIGNED:  # checked first: the sign of a small alignment means nothing
            why = f"no_motion: the pull runs across the part's motion (alignment {alignment:.2f})"
        elif at_limit:
            why = "blocked: the target is at the joint limit the pull pushes it towards"
        else:
            why = f"blocked: the part did not follow a pull along its motion (alignment {alignment:.2f})"
    elif at_limit:
        why = f"blocked: the part reached its joint limit after |dq| = {adq:.3f}"
    else:
        why = f"small_motion: |dq| = {adq:.3f} <= {cfg.success_dq}"
    frac = adq / joint_range if joint_range > 0 else 0.0
    moved_m = adq > cfg.manipllm_dq or frac > cfg.manipllm_range_fraction  # ManipLLM's magnitude test
    if moved_m and cosine <= cfg.manipllm_cosine:
        why_m = f"wrong_direction: cosine {cosine:.2f} <= {cfg.manipllm_cosine}"
    else:
        why_m = why
    return {"failure_reason": "" if ok["success"] else why,
            "failure_reason_manipllm": "" if ok["success_manipllm"] else why_m}


def not_executed(reason: str, joint_range: float | None = None, action=None) -> Outcome:
    """The outcome of an episode in which nothing moved, for `reason` ('<reason>: <detail>')."""
    out: Outcome = {"failure_reason": reason, "failure_reason_manipllm": reason, "contact": False,
                    "attached_link": "", "pulled": False, "unpulled_motion": False, "dq": 0.0, "dq_pre": 0.0,
                    "cosine": 0.0, "pixel_on_target": False}
    if joint_range is not None:
        out["joint_range"] = joint_range
    out.update({"sim_steps": 0, "success": False, "success_manipllm": False, "success_unfiltered": False,
                "success_manipllm_unfiltered": False})
    if action is not None:
        out["action"] = action
    return out


def judge(m: PullMeasurements, cfg, *, action: list, contact_point: np.ndarray, up: np.ndarray,
          joint_type: str, dof: int, limits, joint_range: float) -> Outcome:
    """The outcome of an executed pull from its measurements (docs/protocol.md section 4): success
    counts only when the pull caused the motion (the suction held the target part, and the approach
    did not already move it more than unpulled_dq, unless the pull alone moved it past success_dq)."""
    if not m.finite:
        return {**not_executed("physics_nan: the simulation state became NaN", joint_range, action),
                "sim_steps": m.steps}
    if m.overlap is not None:
        return {**not_executed(f"approach_collision: the gripper at its pre-pose overlaps {m.overlap}", joint_range,
                               action), "sim_steps": m.steps, "qpos_final": m.q1.tolist()}
    dq = float(m.q1[dof] - m.q0[dof])
    dq_pre = float(m.q_attach[dof] - m.q0[dof])
    cosine, alignment = 0.0, 0.0
    if m.touched is not None:
        if np.linalg.norm(m.displacement) > 1e-6:
            cosine = float(np.dot(m.displacement, -up) / np.linalg.norm(m.displacement))
        alignment = joint_alignment(joint_type, m.axis_point, m.axis_dir, m.attach, -up)
    pulled = m.on_target and (abs(dq_pre) <= cfg.unpulled_dq or abs(dq - dq_pre) > cfg.success_dq)
    raw = success_flags(dq, joint_range, cosine, cfg)
    ok = raw if (pulled or cfg.count_unpulled) else {"success": False, "success_manipllm": False}
    reasons = failure_reasons(
        ok, raw, cfg, contact=m.touched is not None, on_target=m.on_target, pulled=pulled,
        attached=m.touched or "", dq=dq, dq_pre=dq_pre, cosine=cosine, alignment=alignment,
        at_limit=at_limit(m.q1[dof], limits, alignment), joint_range=joint_range)
    out: Outcome = {**reasons, "action": action, "contact": m.touched is not None, "attached_link": m.touched or "",
                    "pulled": bool(pulled), "unpulled_motion": bool((raw["success"] or raw["success_manipllm"])
                                                                    and not pulled),
                    "contact_point": contact_point.tolist(), "pull_direction": (-up).tolist(), "dq": dq,
                    "dq_pre": dq_pre, "cosine": cosine, "alignment": alignment, "suction_stretch": m.stretch,
                    "joint_range": joint_range, "qpos_final": m.q1.tolist(), "sim_steps": m.steps,
                    "success_unfiltered": raw["success"], "success_manipllm_unfiltered": raw["success_manipllm"]}
    out.update(ok)
    return out
