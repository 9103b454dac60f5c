"""Procedural articulated objects: one generator per category, a pure function of the instance id.

`generate(category, instance_id)` returns a normalised `ObjectSpec` (bounding-box diagonal 1,
centred at the origin, front facing -x). Add a category by writing a function
`(instance_id, rng) -> ObjectSpec` in one of the family modules and listing it in `GENERATORS`.
"""
from __future__ import annotations

import importlib
import zlib
from functools import lru_cache

import numpy as np

from ..categories import ALL, instance_range
from .spec import Joint, LinkSpec, ObjectSpec, Shape

# category -> "module:function" (module relative to this package); function(instance_id, rng)
GENERATORS = {
    "Safe": "appliances:safe",
    "Door": "furniture:door",
    "Display": "electronics:display",
    "Refrigerator": "appliances:refrigerator",
    "Laptop": "electronics:laptop",
    "Lighter": "tools:lighter",
    "Microwave": "appliances:microwave",
    "Mouse": "electronics:mouse",
    "Box": "containers:box_",
    "TrashCan": "containers:trash_can",
    "KitchenPot": "containers:kitchen_pot",
    "Suitcase": "containers:suitcase",
    "Pliers": "tools:pliers",
    "StorageFurniture": "storage_furniture:generate",
    "Remote": "electronics:remote",
    "Bottle": "containers:bottle",
    "FoldingChair": "furniture:folding_chair",
    "Toaster": "appliances:toaster",
    "Lamp": "electronics:lamp",
    "Dispenser": "appliances:dispenser",
    "Toilet": "furniture:toilet",
    "Scissors": "tools:scissors",
    "Table": "furniture:table",
    "Stapler": "tools:stapler",
    "Kettle": "containers:kettle",
    "USB": "electronics:usb",
    "Switch": "electronics:switch",
    "WashingMachine": "appliances:washing_machine",
    "Faucet": "tools:faucet",
    "Phone": "electronics:phone",
}


class NoGeneratorError(ValueError):
    pass


def available_categories() -> list[str]:
    return [c for c in ALL if c in GENERATORS]


def instance_seed(category: str, instance_id: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([zlib.crc32(category.encode()), int(instance_id)])


@lru_cache(maxsize=4096)
def generate(category: str, instance_id: int) -> ObjectSpec:
    """The normalised object (category, instance_id): same inputs, same object, on every machine."""
    if category not in GENERATORS:
        raise NoGeneratorError(
            f"no procedural generator for category {category!r} yet; available: "
            f"{', '.join(available_categories())}"
        )
    module, function = GENERATORS[category].split(":")
    make = getattr(importlib.import_module(f".{module}", __name__), function)
    rng = np.random.default_rng(instance_seed(category, instance_id))
    spec = make(int(instance_id), rng).normalized()
    if spec.category != category:
        raise AssertionError(f"generator {GENERATORS[category]} made a {spec.category}, not a {category}")
    spec.validate()
    return spec


@lru_cache(maxsize=256)
def instances(category: str, split: str, joint_type: str | None = None) -> tuple[int, ...]:
    """Instance ids of a split that have at least one movable part of `joint_type` (None: any)."""
    ids = instance_range(category, split)
    if joint_type is None:
        return tuple(ids)
    return tuple(i for i in ids
                 if any(link.joint.type == joint_type for link in generate(category, i).movable()))


__all__ = ["GENERATORS", "Joint", "LinkSpec", "NoGeneratorError", "ObjectSpec", "Shape",
           "available_categories", "generate", "instances"]
