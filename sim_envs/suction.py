"""The pull primitive: ManiSkill's floating Panda gripper used as a suction tool (docs/protocol.md
section 3).

For a contact point p and the gripper's rotation (approach axis `up` its z axis): the hand is placed at
p - pre_offset * up (with `check_approach`, one physics step there shows any overlap with the object
as a penetrating contact, and then nothing else runs), moves to p - approach_offset * up (the
fingertips reach p) and waits; the suction attaches a linear spring between the hand and the touched
point nearest p; the hand pulls straight back to p - pull_offset * up and holds (until the target joint
is at rest, with `hold_until_rest`). Between episodes the gripper is parked far out of view.

`SuctionGripper.pull` returns what it measured (sim_envs.outcome.PullMeasurements); the outcome rules
judge it (sim_envs.outcome.judge).
"""
from __future__ import annotations

import numpy as np
import sapien

from .geometry import euler_xyz
from .outcome import PullMeasurements

GRIPPER_PARK = np.array([0.0, 0.0, 15.0])  # hand position between episodes: far out of view
APPROACH_OVERLAP_TOLERANCE = 1e-3  # m of penetration at the pre-pose that counts as overlap


class SuctionGripper:
    """The floating gripper of one scene: its root joints driven by PD targets (gravity off, no joint
    friction), the suction a SAPIEN drive created on contact and removed after the pull."""

    def __init__(self, scene, robot, cfg):
        self.scene, self.robot, self.cfg = scene, robot, cfg
        self.hand = next(link for link in robot.get_links() if link.name.endswith("panda_hand"))
        self.links = set(robot.get_links())
        for link in robot.get_links():
            link.disable_gravity = True
        self.joints = robot.get_active_joints()
        for j in self.joints:
            j.set_friction(0.0)
            j.set_drive_properties(cfg.gripper_stiffness, cfg.gripper_damping, cfg.gripper_force_limit)
        self.steps = 0  # physics steps of the current pull

    def park(self) -> None:
        """Put the gripper out of view, at rest, its drives aiming there."""
        q = np.zeros(self.robot.dof, dtype=np.float32)
        q[:3] = GRIPPER_PARK
        self.robot.set_qpos(q)
        self.robot.set_qvel(np.zeros_like(q))
        for j, v in zip(self.joints, q):
            j.set_drive_target(float(v))

    def pull(self, obj, target, target_links, p: np.ndarray, R_hand: np.ndarray, frames) -> PullMeasurements:
        """Run the primitive at world point `p` with the hand's world rotation `R_hand` on the target
        joint `target` of `obj` (its part: the links `target_links`); `frames` (recording.FrameRecorder)
        films it when on. The gripper is parked again afterwards, whatever happens."""
        c = self.cfg
        up = R_hand[:, 2]
        euler = euler_xyz(R_hand)
        q0 = obj.qpos()
        self.steps = 0

        def hand_q(pos):
            return np.concatenate([pos, euler, np.zeros(len(self.joints) - 6)])

        pre, approach, pull = p - c.pre_offset * up, p - c.approach_offset * up, p - c.pull_offset * up
        self.robot.set_qpos(hand_q(pre).astype(np.float32))
        self.robot.set_qvel(np.zeros(self.robot.dof, dtype=np.float32))
        drive, touched, overlap, stretch = None, None, None, 0.0
        attach = disp = axis_point = axis_dir = None
        q_attach = q0
        try:
            frames.capture("approach")
            if c.check_approach:  # one step at the pre-pose: any overlap shows as a penetrating contact
                self._drive(hand_q, pre, pre, 1, "approach", frames)
                overlap = self.overlapping_link(obj.links)
            if overlap is None:
                self._drive(hand_q, pre, approach, c.steps(c.approach_time), "approach", frames)
                self._drive(hand_q, approach, approach, c.steps(c.contact_time), "attach", frames)
                q_attach = obj.qpos()
                touched, attach = self.touched_link(obj.links, p)
            if touched is not None:
                axis_point, axis_dir = target.axis_world()
                drive = self._attach(touched, attach)
                self._drive(hand_q, approach, pull, c.steps(c.pull_time), "pull", frames)
                self._drive(hand_q, pull, pull, c.steps(c.hold_time), "hold", frames, until_rest=c.hold_until_rest,
                            rest=(obj.articulation, target.dof))
                stretch = self._stretch(touched)
            q1 = obj.qpos()
            finite = bool(np.all(np.isfinite(q1)) and np.all(np.isfinite(self.robot.get_qpos())))
            if touched is not None and finite:
                moved = touched.entity_pose.to_transformation_matrix() @ np.append(self._attach_local, 1)
                disp = moved[:3] - attach
            frames.capture("end")
        finally:
            if drive is not None:
                drive.entity.remove_component(drive)  # the drive lives on the link's entity
            self.park()
        return PullMeasurements(
            finite=finite, overlap=None if overlap is None else overlap.name,
            touched=None if touched is None else touched.name,
            on_target=touched is not None and touched in target_links, attach=attach, displacement=disp,
            axis_point=axis_point, axis_dir=axis_dir, q0=q0, q_attach=q_attach, q1=q1, stretch=stretch,
            steps=self.steps)

    def _drive(self, hand_q, start, end, n: int, phase: str, frames, until_rest: bool = False,
               rest=None) -> None:
        """Move the hand's drive target from `start` to `end` over `n` physics steps (`until_rest`:
        stop early once the target joint (`rest`: articulation, dof) is at rest)."""
        tol = self.cfg.settle_qvel_tol
        for i in range(n):
            tgt = hand_q(start + (end - start) * (i + 1) / n)
            for j, v in zip(self.joints, tgt):
                j.set_drive_target(float(v))
            self.scene.step()
            self.steps += 1
            frames.tick(self.steps, phase)
            if until_rest and i >= 1:
                qv = np.asarray(rest[0].get_qvel())
                if np.all(np.isfinite(qv)) and abs(qv[rest[1]]) < tol:
                    break

    def _contacts_with(self, obj_links):
        """(object link, contact) for every current contact between the gripper and the object."""
        for contact in self.scene.physx_system.get_contacts():
            b0, b1 = contact.bodies
            if b0 in self.links and b1 in obj_links:
                yield b1, contact
            elif b1 in self.links and b0 in obj_links:
                yield b0, contact

    def overlapping_link(self, obj_links):
        """The object link the gripper penetrates deepest (after one step at its pre-pose; ties by name,
        so the reason names the same link whatever order PhysX lists its contacts in), or None."""
        found = []
        for link, contact in self._contacts_with(set(obj_links)):
            depth = min((pt.separation for pt in contact.points), default=0.0)
            if depth < -APPROACH_OVERLAP_TOLERANCE:
                found.append((round(depth, 6), link.name, link))
        return min(found, key=lambda f: f[:2])[2] if found else None

    def touched_link(self, obj_links, p):
        """The object link the gripper touches nearest to the intended point p, and that contact
        point (the fingertips reach p; the hand may also brush a neighbouring part). Points exactly as near as
        each other (a fingertip on the seam between two parts gives one point on each) are ordered by
        separation, then link name, then position: the choice never depends on the order PhysX lists its
        contacts in, which changes with what the process simulated before."""
        found = []
        for link, contact in self._contacts_with(set(obj_links)):
            for pt in contact.points:
                if pt.separation < self.cfg.contact_max_distance:
                    pos = np.asarray(pt.position, dtype=np.float64)
                    found.append((float(np.linalg.norm(pos - p)), float(pt.separation), link.name, tuple(pos), link))
        if not found:
            return None, None
        best = min(found, key=lambda f: f[:4])
        return best[4], np.asarray(best[3], dtype=np.float64)

    def _attach(self, link, point):
        """Suction: a linear spring between the hand and `point` on `link` (free to rotate)."""
        c = self.cfg
        hand_pose, link_pose = self.hand.entity_pose, link.entity_pose
        world = sapien.Pose(list(point))
        self._attach_local = (link_pose.inv() * world).p
        self._attach_in_hand = hand_pose.inv() * world
        drive = self.scene.create_drive(self.hand, hand_pose.inv() * world, link, link_pose.inv() * world)
        for axis in (drive.set_drive_property_x, drive.set_drive_property_y, drive.set_drive_property_z):
            axis(c.suction_stiffness, c.suction_damping)
        return drive

    def _stretch(self, link) -> float:
        """Distance (m) between the suction's two anchors: how far the touched point lags the hand."""
        hand = self.hand.entity_pose * self._attach_in_hand
        held = link.entity_pose.to_transformation_matrix() @ np.append(self._attach_local, 1)
        return float(np.linalg.norm(np.asarray(hand.p) - held[:3]))
