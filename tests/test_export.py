"""Export -> load round trip: procedural objects written as PartNet-Mobility folders come back
through the PartNet-Mobility loader with the same joints, limits and links."""
import json

import numpy as np
import pytest

from sim_envs import objects, partnet
from sim_envs.categories import ALL
from sim_envs.objects.export import export, main as export_main


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("partnet_export")
    specs = {}
    for cat in ALL:
        i = objects.instances(cat, "test")[0]
        spec = objects.generate(cat, i)
        specs[export(spec, root).name] = spec
    return root, specs


def test_layout_and_metadata(exported):
    root, specs = exported
    entries = partnet.scan(str(root))
    assert set(entries) == set(specs)
    for name, spec in specs.items():
        meta = json.loads((root / name / "meta.json").read_text())
        assert meta["model_cat"] == spec.category and entries[name].category == spec.category
        assert meta["instance_id"] == spec.instance_id
        assert sorted(entries[name].joint_types) == sorted(l.joint.type for l in spec.movable())


def test_round_trip_through_the_partnet_loader(exported, env):
    root, specs = exported
    u = env.unwrapped
    from sim_envs.sources import PartNetSource

    saved = u.source
    u.source = PartNetSource(str(root))
    try:
        for name, spec in specs.items():
            split = partnet.split_of(name, spec.category)
            env.reset(seed=0, options={"task": spec.category, "instance_id": name, "split": split})
            obj = u._object
            assert len(obj.links) == len(spec.links), name
            want = sorted((l.name, l.joint.type, l.joint.limits) for l in spec.movable())
            got = sorted((j.link.name, j.type, j.limits) for j in obj.joints)
            assert [w[:2] for w in want] == [g[:2] for g in got], name
            # the loader re-normalises by the tight collision AABB and applies the episode scale
            s = u._info["scale"] / partnet._NORM_CACHE[str(root / name / "mobility.urdf")][0]
            for (_, jtype, wl), (_, _, gl) in zip(want, got):
                expect = np.asarray(wl) * (s if jtype == "prismatic" else 1.0)
                assert np.allclose(gl, expect, rtol=1e-4, atol=1e-5), (name, wl, gl)
    finally:
        u.source = saved


def test_export_cli(tmp_path, capsys):
    assert export_main(["--categories", "Faucet,drawer", "--instances", "2", "--out", str(tmp_path)]) == 0
    drawers = objects.instances("StorageFurniture", "test", "prismatic")[:2]
    want = ["Faucet_0", "Faucet_1"] + [f"StorageFurniture_{i}" for i in drawers]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(want)
    with pytest.raises(SystemExit) as e:
        export_main(["--categories", "Sofa", "--out", str(tmp_path)])
    assert e.value.code == 2 and "Sofa" in capsys.readouterr().err
