"""Turn an `ObjectSpec` into a SAPIEN articulation (fixed base at the origin)."""
from __future__ import annotations

import sapien

from ..geometry import axis_frame_quat
from .spec import ObjectSpec

_MATERIAL_CACHE: dict = {}


def _physical_material(friction: float):
    key = round(float(friction), 6)
    if key not in _MATERIAL_CACHE:
        _MATERIAL_CACHE[key] = sapien.physx.PhysxMaterial(key, key, 0.0)
    return _MATERIAL_CACHE[key]


def build_articulation(scene: sapien.Scene, spec: ObjectSpec, scale: float = 1.0,
                       friction: float = 1.0, name: str | None = None):
    """Build `spec` scaled by `scale` into `scene`; returns the PhysxArticulation."""
    spec = spec.scaled(scale) if scale != 1.0 else spec
    mat = _physical_material(friction)
    builder = scene.create_articulation_builder()
    link_builders = {}
    for ls in spec.links:
        lb = builder.create_link_builder(link_builders[ls.parent] if ls.parent else None)
        lb.set_name(ls.name)
        for sh in ls.shapes:
            pose = sapien.Pose(list(sh.pos), list(sh.quat))
            rmat = sapien.render.RenderMaterial(base_color=list(sh.color))
            if sh.kind == "box":
                lb.add_box_collision(pose, half_size=list(sh.size), material=mat)
                lb.add_box_visual(pose, half_size=list(sh.size), material=rmat)
            elif sh.kind == "cylinder":
                r, hl = sh.size
                lb.add_cylinder_collision(pose, radius=r, half_length=hl, material=mat)
                lb.add_cylinder_visual(pose, radius=r, half_length=hl, material=rmat)
            elif sh.kind == "sphere":
                lb.add_sphere_collision(pose, radius=sh.size[0], material=mat)
                lb.add_sphere_visual(pose, radius=sh.size[0], material=rmat)
            else:
                raise ValueError(f"unknown shape kind {sh.kind!r}")
        if ls.parent is not None:
            if ls.joint is None:
                lb.set_joint_properties("fixed", limits=[], pose_in_parent=sapien.Pose(),
                                        pose_in_child=sapien.Pose())
            else:
                jp = sapien.Pose(list(ls.joint.origin), list(axis_frame_quat(ls.joint.axis)))
                lb.set_joint_properties(ls.joint.type, limits=[list(ls.joint.limits)],
                                        pose_in_parent=jp, pose_in_child=jp)
            lb.set_joint_name(f"joint_{ls.name}")
        link_builders[ls.name] = lb
    builder.set_initial_pose(sapien.Pose())
    art = builder.build(fix_root_link=True)
    art.set_name(name or spec.object_id)
    return art
