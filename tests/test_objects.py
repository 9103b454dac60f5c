import numpy as np
import pytest

from sim_envs import objects
from sim_envs.objects import storage_furniture


def fresh(category, i):
    return objects.generate.__wrapped__(category, i)  # bypass the cache


def test_instance_is_a_pure_function_of_its_id():
    a, b = fresh("StorageFurniture", 7), fresh("StorageFurniture", 7)
    assert a == b


def test_instances_differ():
    sigs = {tuple(np.round(np.concatenate(fresh("StorageFurniture", i).bounds()), 6))
            + (len(fresh("StorageFurniture", i).links),) for i in range(40)}
    assert len(sigs) == 40


def test_normalised_like_partnet():
    for i in range(20):
        lo, hi = fresh("StorageFurniture", i).bounds()
        assert np.isclose(np.linalg.norm(hi - lo), 1.0, atol=1e-9)
        assert np.allclose((lo + hi) / 2, 0, atol=1e-9)


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
    with pytest.raises(objects.NoGeneratorError, match="available: StorageFurniture"):
        objects.generate("Faucet", 0)


def test_generator_module_contract():
    spec = storage_furniture.generate(0, np.random.default_rng(0))
    assert spec.category == "StorageFurniture" and spec.links[0].parent is None
