"""Where objects come from: the procedural generators (default) or a PartNet-Mobility directory."""
from __future__ import annotations

from typing import Optional, Sequence

from . import objects, partnet
from .articulated import ArticulatedObject
from .categories import Task
from .objects.build import build_articulation


class ProceduralSource:
    name = "procedural"

    def instances(self, task: Task, split: str) -> Sequence[int]:
        return objects.instances(task.category, split, task.joint_type)

    def load(self, scene, category: str, instance_id, scale: float, damping: float,
             friction: float) -> ArticulatedObject:
        spec = objects.generate(category, int(instance_id))
        art = build_articulation(scene, spec, scale)
        return ArticulatedObject.wrap(art, category, spec.object_id, self.name, damping, friction)


class PartNetSource:
    name = "partnet"

    def __init__(self, root: str):
        self.root = str(root)
        self.entries = partnet.scan(self.root)

    def instances(self, task: Task, split: str) -> Sequence[str]:
        return partnet.instances(self.root, task.category, split, task.joint_type)

    def load(self, scene, category: str, instance_id, scale: float, damping: float,
             friction: float) -> ArticulatedObject:
        entry = self.entries[str(instance_id)]
        art = partnet.load(scene, entry, scale)
        return ArticulatedObject.wrap(art, entry.category, f"partnet/{entry.object_id}",
                                      self.name, damping, friction)


def make_source(partnet_dir: Optional[str]):
    return PartNetSource(partnet_dir) if partnet_dir else ProceduralSource()
