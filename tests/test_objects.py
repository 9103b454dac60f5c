import numpy as np
import pytest

from sim_envs import objects
from sim_envs.categories import ALL, SEEN, UNSEEN, instance_range
from sim_envs.objects import storage_furniture
from sim_envs.objects.spec import ObjectSpec


def fresh(category, i):
    return objects.generate.__wrapped__(category, i)  # bypass the cache


def signature(spec: ObjectSpec) -> tuple:
    """Everything geometric about an object, rounded: two different objects differ here."""
    shapes = tuple((link.name, sh.kind, *np.round(sh.pos, 6), *np.round(sh.size, 6))
                   for link in spec.links for sh in link.shapes)
    joints = tuple((link.name, link.joint.type, *np.round(link.joint.origin, 6), *np.round(link.joint.limits, 6))
                   for link in spec.movable())
    return shapes + joints


def test_every_category_has_a_generator():
    assert objects.available_categories() == list(ALL)
    assert set(objects.GENERATORS) == set(ALL)


@pytest.mark.parametrize("cat", ALL)
def test_instance_is_a_pure_function_of_its_id(cat):
    i = instance_range(cat, "test")[0]
    assert fresh(cat, i) == fresh(cat, i)
    assert fresh(cat, i).category == cat and fresh(cat, i).instance_id == i


@pytest.mark.parametrize("cat", ALL)
def test_no_two_instances_share_geometry(cat):
    ids = list(range(0, 100, 3)) if cat in SEEN else list(range(20))
    sigs = {signature(fresh(cat, i)) for i in ids}
    assert len(sigs) == len(ids)


@pytest.mark.parametrize("cat", ALL)
def test_normalised_like_partnet_and_valid(cat):
    for i in range(0, 20, 4):
        spec = fresh(cat, i)
        spec.validate()
        lo, hi = spec.bounds()
        assert np.isclose(np.linalg.norm(hi - lo), 1.0, atol=1e-9)
        assert np.allclose((lo + hi) / 2, 0, atol=1e-9)
        for link in spec.movable():
            j = link.joint
            assert np.isclose(np.linalg.norm(j.axis), 1.0)
            # a part must be able to move far enough for the benchmark's |dq| > 0.1 at the
            # smallest scale (0.7): 0.1 rad, or 0.1 / 0.7 of the normalised size
            assert j.limits[1] - j.limits[0] > (0.1 if j.type == "revolute" else 0.1 / 0.7), (spec.object_id, link.name)


def test_splits():
    for cat in SEEN:
        assert list(instance_range(cat, "train")) == list(range(80))
        assert list(instance_range(cat, "test")) == list(range(80, 100))
    for cat in UNSEEN:
        assert list(instance_range(cat, "test")) == list(range(20))


def test_joint_types_as_real_objects_have_them():
    types = {cat: {link.joint.type for i in range(20) for link in fresh(cat, i).movable()} for cat in ALL}
    for cat in ("Door", "Laptop", "Safe", "Toilet", "Scissors", "Pliers", "Lamp", "Stapler"):
        assert types[cat] == {"revolute"}, cat
    for cat in ("KitchenPot", "Table"):
        assert types[cat] == {"prismatic"}, cat
    for cat in ("StorageFurniture", "Refrigerator", "Bottle", "Dispenser", "WashingMachine", "Phone"):
        assert types[cat] == {"prismatic", "revolute"}, cat


def test_every_instance_has_valid_movable_parts_and_both_kinds_exist():
    types = set()
    for i in range(100):
        spec = fresh("StorageFurniture", i)
        spec.validate()
        for link in spec.movable():
            types.add(link.joint.type)
            assert link.semantic in ("drawer", "door")
            assert (link.joint.type == "prismatic") == (link.semantic == "drawer")
    assert types == {"prismatic", "revolute"}


def test_joint_type_pools():
    drawers = objects.instances("StorageFurniture", "test", "prismatic")
    doors = objects.instances("StorageFurniture", "test", "revolute")
    assert drawers and doors and set(drawers) | set(doors) <= set(range(80, 100))


def test_missing_generator_is_a_clear_error():
    with pytest.raises(objects.NoGeneratorError, match="'Sofa'.*available: Safe, Door"):
        objects.generate("Sofa", 0)


def test_generator_module_contract():
    spec = storage_furniture.generate(0, np.random.default_rng(0))
    assert spec.category == "StorageFurniture" and spec.links[0].parent is None
