"""Where objects come from: the procedural generators (default) or a PartNet-Mobility directory."""
from __future__ import annotations

from collections.abc import Sequence

from . import objects, partnet
from .articulated import ArticulatedObject
from .categories import Task
from .objects.build import build_articulation


class ProceduralSource:
    name = "procedural"

    def instances(self, task: Task, split: str) -> Sequence[int]:
        return objects.instances(task.category, split, task.joint_type)

    def load(self, scene, category: str, instance_id, scale: float, damping: float,
             friction: float, material_friction: float = 1.0) -> ArticulatedObject:
        spec = objects.generate(category, int(instance_id))
        art = build_articulation(scene, spec, scale, friction=material_friction)
        return ArticulatedObject.wrap(art, category, spec.object_id, self.name, damping, friction)


class PartNetSource:
    name = "partnet"

    def __init__(self, root: str, collision: str = "hull"):
        self.root = str(root)
        self.collision = collision
        self.entries = partnet.scan(self.root)

    def instances(self, task: Task, split: str) -> Sequence[str]:
        return partnet.instances(self.root, task.category, split, task.joint_type)

    def load(self, scene, category: str, instance_id, scale: float, damping: float,
             friction: float, material_friction: float = 1.0) -> ArticulatedObject:
        entry = self.entries[str(instance_id)]
        art = partnet.load(scene, entry, scale, friction=material_friction, collision=self.collision)
        obj = ArticulatedObject.wrap(art, entry.category, f"partnet/{entry.object_id}", self.name, damping, friction)
        obj.semantics = partnet.semantics(entry.urdf.parent)
        obj.joints = [j for j in obj.joints if partnet.annotated_movable(obj.semantics, j.link.name, j.type)]
        return obj


def make_source(partnet_dir: str | None, collision: str = "hull"):
    return PartNetSource(partnet_dir, collision) if partnet_dir else ProceduralSource()
