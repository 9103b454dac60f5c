"""An articulated object living in a SAPIEN scene, whatever built it (generator or URDF)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sapien


@dataclass
class MovableJoint:
    name: str
    type: str  # "prismatic" or "revolute"
    dof: int  # index into the articulation's qpos
    joint: sapien.physx.PhysxArticulationJoint
    link: sapien.physx.PhysxArticulationLinkComponent
    limits: tuple[float, float]

    @property
    def range(self) -> float:
        return float(self.limits[1] - self.limits[0])

    def axis_world(self) -> tuple[np.ndarray, np.ndarray]:
        """(point on the axis, unit direction) in the world frame, at the current state."""
        T = self.joint.get_global_pose().to_transformation_matrix()
        return T[:3, 3].copy(), T[:3, 0].copy()


@dataclass
class ArticulatedObject:
    articulation: sapien.physx.PhysxArticulation
    category: str
    object_id: str
    source: str  # "procedural" or "partnet"
    joints: list[MovableJoint] = field(default_factory=list)
    # link name -> (joint word, part label) from PartNet-Mobility's semantics.txt, where present
    semantics: dict = field(default_factory=dict)

    @classmethod
    def wrap(cls, articulation, category, object_id, source, damping, friction) -> ArticulatedObject:
        """Collect the movable joints (finite limits) and make every joint passive and damped."""
        joints = []
        for dof, j in enumerate(articulation.get_active_joints()):
            j.set_drive_properties(stiffness=0.0, damping=float(damping))
            j.set_friction(float(friction))
            lo, hi = (float(v) for v in j.get_limits()[0])
            # SAPIEN's URDF loader names limited revolute joints "revolute_unwrapped"
            jtype = "revolute" if j.type.startswith("revolute") else j.type
            if jtype in ("prismatic", "revolute") and np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                joints.append(MovableJoint(j.name, jtype, dof, j, j.get_child_link(), (lo, hi)))
        return cls(articulation, category, object_id, source, joints)

    @property
    def links(self):
        return self.articulation.get_links()

    def link_seg_ids(self) -> np.ndarray:
        """Render segmentation ids (entity per_scene_id) of every link."""
        return np.array([link.entity.per_scene_id for link in self.links], dtype=np.int64)

    def qpos(self) -> np.ndarray:
        return np.asarray(self.articulation.get_qpos(), dtype=np.float64)

    def set_qpos(self, q) -> None:
        self.articulation.set_qpos(np.asarray(q, dtype=np.float32))
        self.articulation.set_qvel(np.zeros(self.articulation.dof, dtype=np.float32))

    def joints_of_type(self, joint_type: str | None) -> list[MovableJoint]:
        return [j for j in self.joints if joint_type is None or j.type == joint_type]

    def label(self, link) -> str:
        """The part label of `link` (semantics.txt), or ''."""
        return self.semantics.get(link.name, ("", ""))[1]

    def subtree(self, link) -> set:
        """`link` and every link below it: whatever moves with it (a handle or knob on a door; the
        cap under the slider of a PartNet-Mobility screw joint, whose slider link has no geometry)."""
        out = {link}
        grew = True
        while grew:
            grew = False
            for link in self.links:
                parent = link.get_parent()
                if link not in out and parent is not None and parent in out:
                    out.add(link)
                    grew = True
        return out

    def remove(self, scene: sapien.Scene) -> None:
        scene.remove_articulation(self.articulation)
