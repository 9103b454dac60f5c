"""The PartNet-Mobility loader on a tiny dataset written here (the real one cannot be downloaded)."""
import json

import numpy as np
import pytest
from conftest import expert

CUBE_OBJ = """v -0.5 -0.5 -0.5
v 0.5 -0.5 -0.5
v 0.5 0.5 -0.5
v -0.5 0.5 -0.5
v -0.5 -0.5 0.5
v 0.5 -0.5 0.5
v 0.5 0.5 0.5
v -0.5 0.5 0.5
f 1 3 2
f 1 4 3
f 5 6 7
f 5 7 8
f 1 2 6
f 1 6 5
f 2 3 7
f 2 7 6
f 3 4 8
f 3 8 7
f 4 1 5
f 4 5 8
"""


def _link(name, scale, xyz):
    s = " ".join(map(str, scale))
    o = " ".join(map(str, xyz))
    return f"""  <link name="{name}">
    <visual><origin xyz="{o}"/><geometry><mesh filename="textured_objs/cube.obj" scale="{s}"/></geometry></visual>
    <collision><origin xyz="{o}"/><geometry><mesh filename="textured_objs/cube.obj" scale="{s}"/></geometry></collision>
  </link>
"""


def write_fixture(root, object_id="1001", category="StorageFurniture"):
    """A cabinet body with one drawer on a prismatic joint, in PartNet-Mobility's layout."""
    d = root / object_id
    (d / "textured_objs").mkdir(parents=True)
    (d / "textured_objs" / "cube.obj").write_text(CUBE_OBJ)
    (d / "meta.json").write_text(json.dumps({"model_cat": category, "anno_id": object_id}))
    urdf = ('<?xml version="1.0"?>\n<robot name="fixture">\n  <link name="base"/>\n'
            + _link("link_0", (0.5, 0.8, 0.6), (0, 0, 0))
            + _link("link_1", (0.04, 0.6, 0.2), (-0.27, 0, 0.1))
            + """  <joint name="joint_0" type="fixed"><parent link="base"/><child link="link_0"/></joint>
  <joint name="joint_1" type="prismatic">
    <parent link="link_0"/><child link="link_1"/>
    <axis xyz="-1 0 0"/><limit lower="0" upper="0.35"/>
  </joint>
</robot>
""")
    (d / "mobility.urdf").write_text(urdf)
    return d


@pytest.fixture(scope="module")
def partnet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("partnet")
    for i in range(6):  # enough ids that the crc32 split puts some in train and some in test
        write_fixture(root, str(1001 + i))
    (root / "broken").mkdir()  # no urdf: skipped
    write_fixture(root, "2001", category="NotACategory")
    return root


def test_scan_reads_categories_and_skips_unusable(partnet_root):
    from sim_envs import partnet

    entries = partnet.scan(str(partnet_root))
    assert set(entries) == {str(1001 + i) for i in range(6)}
    gone = partnet.skipped(str(partnet_root))
    assert gone["broken"] == "no mobility.urdf"
    assert gone["2001"] == "meta.json: unknown category 'NotACategory' (not one of the 30)"
    assert {e.category for e in entries.values()} == {"StorageFurniture"}
    assert all(e.joint_types == ("prismatic",) for e in entries.values())
    train = partnet.instances(str(partnet_root), "StorageFurniture", "train")
    test = partnet.instances(str(partnet_root), "StorageFurniture", "test")
    assert set(train) | set(test) == set(entries) and not set(train) & set(test)


def test_the_reference_lists_decide_the_split_of_seen_objects_they_name(tmp_path):
    """Seen-category ids the reference code's lists name take the lists' side, whatever the hash says; the ids
    outside them fall back to the hash; an unseen category (by the paper) stays test only, even where the lists
    put its objects in train (Switch); run records say how many objects each rule split."""
    import json
    import zlib

    from sim_envs import partnet

    data = json.loads(partnet.REFERENCE_SPLIT.read_text())
    assert (len(data["train"]), len(data["test"])) == (1043, 713) and not set(data["train"]) & set(data["test"])
    assert data["source"]["repository"] == "clorislili/ManipLLM" and len(data["source"]["commit"]) == 40
    listed_train, listed_test = "47853", "41452"  # StorageFurniture ids whose hash would say the opposite
    assert data["train"][listed_train] == data["test"][listed_test] == "StorageFurniture"
    assert zlib.crc32(listed_train.encode()) % 5 == 0 and zlib.crc32(listed_test.encode()) % 5 != 0
    assert partnet.split_of(listed_train, "StorageFurniture") == "train"
    assert partnet.split_of(listed_test, "StorageFurniture") == "test"
    assert data["train"]["100907"] == "Switch" and partnet.split_of("100907", "Switch") == "test"
    assert partnet.split_rule("1001", "StorageFurniture") == "hash"
    for object_id in (listed_train, listed_test, "1001", "1002", "1003"):
        write_fixture(tmp_path, object_id)
    root = str(tmp_path)
    assert set(partnet.instances(root, "StorageFurniture", "train")) >= {listed_train}
    assert listed_test in partnet.instances(root, "StorageFurniture", "test")
    summary = partnet.split_summary(root)
    assert summary["reference_lists"] == f"clorislili/ManipLLM@{data['source']['commit']}"
    assert summary["rules"]["reference lists"] == {"train": 1, "test": 1}
    assert sum(summary["rules"]["hash"].values()) == 3 and summary["rules"]["unseen category"] == {"train": 0,
                                                                                                 "test": 0}


def test_missing_directory_is_a_clear_error(tmp_path):
    from sim_envs import partnet

    with pytest.raises(FileNotFoundError, match="does not exist"):
        partnet.scan(str(tmp_path / "nope"))


def test_env_uses_partnet_objects_and_pulls_the_drawer(partnet_root):
    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    split = "train"
    env = make_env(PullEnvConfig(task="drawer", split=split, partnet_dir=str(partnet_root)))
    try:
        wins = 0
        for seed in range(4):
            obs, info = env.reset(seed=seed)
            assert info["object_source"] == "partnet" and info["object_id"].startswith("partnet/")
            assert info["category"] == "StorageFurniture" and info["joint_type"] == "prismatic"
            assert info["target_pixels"] > 16
            # normalised: the object's extent is about 1 x scale
            art = env.unwrapped.articulated_object.articulation
            lo = np.min([link.compute_global_aabb_tight()[0] for link in art.get_links()
                         if link.get_collision_shapes()], 0)
            hi = np.max([link.compute_global_aabb_tight()[1] for link in art.get_links()
                         if link.get_collision_shapes()], 0)
            assert np.linalg.norm(hi - lo) == pytest.approx(info["scale"], rel=0.05)
            info = env.step(expert(env, seed))[4]
            wins += info["success"]
        assert wins >= 3
    finally:
        env.close()


def test_broken_object_folders_are_skipped_with_their_reason(tmp_path):
    """A URDF that does not parse, a mesh the URDF names that is missing, an unknown category, a folder
    without meta.json, an object without a joint that may be a target: each skipped with why; the usable
    object stays. Nothing usable: FileNotFoundError."""
    from sim_envs import partnet

    write_fixture(tmp_path, "ok")
    (write_fixture(tmp_path, "bad_urdf") / "mobility.urdf").write_text("<robot><link name='a'></robot>")
    (write_fixture(tmp_path, "no_mesh") / "textured_objs" / "cube.obj").unlink()
    write_fixture(tmp_path, "what", category="Teapot")
    (write_fixture(tmp_path, "no_meta") / "meta.json").unlink()
    (write_fixture(tmp_path, "static") / "semantics.txt").write_text("link_0 heavy body\nlink_1 static drawer\n")
    root = str(tmp_path)
    assert set(partnet.scan(root)) == {"ok"}
    gone = partnet.skipped(root)
    assert set(gone) == {"bad_urdf", "no_mesh", "what", "no_meta", "static"}
    assert gone["static"].startswith("no target joint")  # its one joint's link may not move (real: GenSim2's 102301)
    assert gone["bad_urdf"].startswith("mobility.urdf does not parse: mismatched tag")
    assert gone["no_mesh"] == "missing mesh textured_objs/cube.obj"  # each file named once
    assert "unknown category 'Teapot'" in gone["what"] and gone["no_meta"] == "no meta.json"
    lines = []
    assert partnet.run_record(root, log=lines.append)["skipped"] == gone
    assert lines == [f"partnet: skipping {k}: {v}" for k, v in gone.items()]
    (tmp_path / "ok" / "mobility.urdf").unlink()
    partnet.index.cache_clear()
    with pytest.raises(FileNotFoundError, match="no usable object folders .* skipped 6, e.g. bad_urdf"):
        partnet.scan(root)


def test_an_evaluation_on_a_partnet_directory_records_splits_and_skips(partnet_root, tmp_path, capsys):
    """The run goes on without the broken folders, says each in one line, and records them (run.json and the
    directory's identity) with how its objects were split; an empty directory exits 2 naming --partnet-dir."""
    from evaluation import run as cli
    from sim_envs import partnet

    out = tmp_path / "eval"
    args = ["--agent", "random", "--categories", "drawer", "--episodes", "2", "--workers", "0", "--image-size",
            "128", "--quiet"]
    assert cli.main([*args, "--partnet-dir", str(partnet_root), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "partnet: skipping broken: no mobility.urdf" in err and "partnet: skipping 2001: meta.json" in err
    run = json.loads((out / "run.json").read_text())
    assert run["partnet"]["split"] == partnet.split_summary(str(partnet_root))
    assert sum(run["partnet"]["split"]["rules"]["hash"].values()) == 6
    assert set(run["partnet"]["skipped"]) == {"broken", "2001"} and run["identity"]["partnet_skipped"] == ["2001",
                                                                                                      "broken"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        cli.main([*args, "--partnet-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "never")])
    assert e.value.code == 2 and not (tmp_path / "never").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --partnet-dir {tmp_path / 'empty'}: no usable object")


def test_coacd_decomposition_is_cached_by_content(tmp_path, monkeypatch):
    """A mesh is decomposed once; a second request (even under another file name) reads the cache,
    and the URDF rewritten for collision points at the decomposition, visuals at the original."""
    import xml.etree.ElementTree as ET

    from sim_envs import partnet
    from sim_envs.objects.export import shape_mesh
    from sim_envs.objects.spec import Shape

    monkeypatch.setenv("ROBOMAMBA_BENCH_CACHE", str(tmp_path / "cache"))
    # an L of two boxes: concave, so its decomposition has more than one piece
    verts, faces = [], []
    for sh in (Shape("box", (0, 0, 0), (0.5, 0.1, 0.1), (1, 1, 1, 1)),
               Shape("box", (0.4, 0.4, 0), (0.1, 0.3, 0.1), (1, 1, 1, 1))):
        v, f = shape_mesh(sh)
        faces.append(f + sum(len(x) for x in verts))
        verts.append(v)
    text = "\n".join([f"v {x} {y} {z}" for x, y, z in np.concatenate(verts)] +
                     [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.concatenate(faces)]) + "\n"
    mesh = tmp_path / "obj" / "piece.obj"
    mesh.parent.mkdir()
    mesh.write_text(text)
    first = partnet.decompose(mesh)
    assert first.parent == tmp_path / "cache" / "coacd" and first.read_text().count("\no ") >= 1
    assert first.read_text().count("o piece_") >= 2
    stamp = first.stat().st_mtime_ns
    copy = tmp_path / "obj" / "same.obj"
    copy.write_text(text)
    assert partnet.decompose(copy) == first and first.stat().st_mtime_ns == stamp  # not redone
    urdf = tmp_path / "obj" / "mobility.urdf"
    urdf.write_text('<robot name="r"><link name="base"><visual><geometry><mesh filename="piece.obj"/></geometry>'
                    '</visual><collision><geometry><mesh filename="piece.obj"/></geometry></collision></link></robot>')
    rewritten = ET.parse(partnet.collision_urdf(urdf.resolve())).getroot()
    assert rewritten.find("link/collision/geometry/mesh").get("filename") == str(first)
    assert rewritten.find("link/visual/geometry/mesh").get("filename") == str(mesh.resolve())


def test_semantics_choose_the_target_joints(tmp_path):
    from sim_envs import partnet

    (tmp_path / "semantics.txt").write_text("link_0 hinge door\nlink_1 slider drawer\nlink_2 heavy body\n"
                                            "link_3 static knob\nlink_4 slider+ lid\n")
    sem = partnet.semantics(tmp_path)
    assert sem["link_0"] == ("hinge", "door") and sem["link_2"] == ("heavy", "body")
    assert partnet.annotated_movable(sem, "link_0", "revolute")
    assert not partnet.annotated_movable(sem, "link_0", "prismatic")  # the file says it turns
    assert (partnet.annotated_movable(sem, "link_1", "prismatic")
            and partnet.annotated_movable(sem, "link_4", "prismatic"))
    assert not partnet.annotated_movable(sem, "link_3", "revolute")  # annotated as not movable
    assert partnet.annotated_movable(sem, "link_9", "revolute")  # not in the file: allowed
    assert partnet.semantics(tmp_path / "missing") == {}


def test_decompose_command_fills_the_cache_once(tmp_path, monkeypatch, capsys):
    """`python -m sim_envs.partnet` decomposes every collision mesh of a directory; a second run finds
    them all in the cache; a bad object id exits 2 naming it."""
    from sim_envs import objects, partnet
    from sim_envs.objects.export import export

    monkeypatch.setenv("ROBOMAMBA_BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "pm"
    folder = export(objects.generate("Laptop", objects.instances("Laptop", "test")[0]), root, mesh=True)
    meshes = partnet.collision_meshes(folder / "mobility.urdf")
    assert meshes and all(m.exists() for m in meshes)
    assert partnet.main(["--partnet-dir", str(root), "--workers", "1"]) == 0
    cached = sorted((tmp_path / "cache" / "coacd").glob("*.obj"))
    assert len(cached) == len({m.read_bytes() for m in meshes})  # one per distinct content
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert partnet.main(["--partnet-dir", str(root), "--workers", "1"]) == 0
    assert [p.stat().st_mtime_ns for p in cached] == stamps  # nothing redone
    with pytest.raises(SystemExit) as e:
        partnet.main(["--partnet-dir", str(root), "--objects", "nope"])
    assert e.value.code == 2 and "nope" in capsys.readouterr().err


def test_the_main_job_runs_on_a_partnet_directory(tmp_path):
    """`evaluation.pipeline --partnet-dir` on a mesh-mode export of procedural objects (PartNet's layout):
    demos on the train objects of the seen category, a trained agent and a baseline evaluated on the test
    objects of both categories it holds, tables and records as on the procedural default; a directory
    without test objects of the asked categories exits 2 naming --partnet-dir."""
    from conftest import run_main

    from data_collection.dataset import load_frame
    from sim_envs import objects, partnet
    from sim_envs.objects.export import export, folder_name

    root = tmp_path / "partnet"
    split = {}
    for i in objects.instances("Laptop", "train") + objects.instances("Laptop", "test"):
        spec = objects.generate("Laptop", i)
        side = partnet.split_of(folder_name(spec), "Laptop")
        if side not in split.values():  # one train and one test object
            split[export(spec, root, mesh=True).name] = side
        if len(split) == 2:
            break
    faucet = export(objects.generate("Faucet", objects.instances("Faucet", "test")[0]), root, mesh=True).name
    assert sorted(split.values()) == ["test", "train"]
    train_id = next(k for k, v in split.items() if v == "train")
    test_ids = {k for k, v in split.items() if v == "test"} | {faucet}

    out = tmp_path / "job"
    p = run_main("evaluation.pipeline", "--partnet-dir", root, "--agents", "flowbot3d,random", "--samples", "2",
                 "--episodes", "2", "--train-seeds", "1", "--flowbot3d-epochs", "1", "--workers", "0",
                 "--image-size", "128", "--film", "0", "--out", out)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"--partnet-dir {root}: evaluation on the test objects of 2 of 30 categories" in p.stdout
    assert "demos on the train objects of 1 seen categories" in p.stdout
    data = load_frame(out / "data", ["instance_id", "category"])
    assert len(data) and set(data.instance_id) == {train_id} and set(data.category) == {"Laptop"}
    assert json.loads((out / "data" / "manifest.json").read_text())["partnet"]["skipped"] == {}
    for run in ("flowbot3d@s0", "random"):
        recs = [json.loads(x) for x in (out / "eval" / run / "episodes.jsonl").read_text().splitlines()]
        assert len(recs) == 4 and {str(r["instance_id"]) for r in recs} == test_ids
        assert {r["category"] for r in recs} == {"Laptop", "Faucet"}
        assert all(r["success"] or r["failure_reason"] for r in recs)
        assert json.loads((out / "eval" / run / "run.json").read_text())["config"]["partnet_dir"] == str(root)
    table = (out / "tables" / "table_manipulation.csv").read_text()
    assert "flowbot3d@s0" in table and "random" in table
    assert json.loads((out / "tables" / "pipeline.json").read_text())["config"]["partnet_dir"] == str(root)
    assert (out / "tables" / "report" / "index.html").is_file()

    bad = run_main("evaluation.pipeline", "--partnet-dir", root, "--categories", "Kettle", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--partnet-dir" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
