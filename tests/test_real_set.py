"""bench/real_set.py: the real-object manifest is made from repositories at a commit, and `rebuild` gives
back exactly those files, or exits 2 naming the one that differs, leaving no half-made folder."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def real_set(monkeypatch):
    spec = importlib.util.spec_from_file_location("real_set", ROOT / "bench" / "real_set.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "real_set", module)
    spec.loader.exec_module(module)
    return module


def make_repo(mirrors: Path) -> Path:
    repo = mirrors / "someone+objects" / "repo"
    obj = repo / "assets" / "123"
    (obj / "textured_objs").mkdir(parents=True)
    (obj / "meta.json").write_text(json.dumps({"model_cat": "Door"}))
    (obj / "mobility.urdf").write_text("<robot name='d'/>\n")
    (obj / "textured_objs" / "a.obj").write_text("v 0 0 0\n")
    (repo / "other.txt").write_text("not part of the set\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "objects"], check=True)
    return repo


def test_the_manifest_rebuilds_byte_for_byte_and_a_changed_file_is_refused(real_set, tmp_path, monkeypatch, capsys):
    mirrors = tmp_path / "mirrors"
    repo = make_repo(mirrors)
    monkeypatch.setattr(real_set, "SOURCES", [("123", "someone/objects", "assets/123")])
    manifest = tmp_path / "manifest.json"
    assert real_set.main(["manifest", "--mirrors", str(mirrors), "--manifest", str(manifest)]) == 0
    m = json.loads(manifest.read_text())
    (o,) = m["objects"]
    assert o["category"] == "Door" and o["commit"] == real_set.git(repo, "rev-parse", "HEAD").strip()
    assert set(o["files"]) == {"meta.json", "mobility.urdf", "textured_objs/a.obj"}
    source = str(mirrors) + "/{owner}+{name}/repo"
    out = tmp_path / "set"
    assert real_set.main(["rebuild", "--out", str(out), "--source", source, "--manifest", str(manifest)]) == 0
    assert real_set.tree_files(out / "123") == o["files"]
    # a file that differs from the manifest: exit 2 naming it, and no folder
    o["files"]["textured_objs/a.obj"] = "0" * 64
    manifest.write_text(json.dumps(m))
    bad = tmp_path / "bad"
    with pytest.raises(SystemExit) as e:
        real_set.rebuild(m, bad, source)
    assert e.value.code == 2 and "textured_objs/a.obj differs" in capsys.readouterr().err
    assert not bad.exists() and not list(tmp_path.glob(".bad.*"))
    with pytest.raises(SystemExit) as e:  # an existing folder is not overwritten
        real_set.rebuild(m, out, source)
    assert e.value.code == 2 and real_set.tree_files(out / "123")["textured_objs/a.obj"] != "0" * 64


def test_the_committed_manifest_names_every_file_with_its_source():
    m = json.loads((ROOT / "bench" / "real_set.json").read_text())
    assert m["format"] == "robomamba-bench/real-set/v1" and len(m["objects"]) >= 19
    for o in m["objects"]:
        assert len(o["commit"]) == 40 and "/" in o["repository"] and o["category"]
        assert "mobility.urdf" in o["files"] and "meta.json" in o["files"]
        assert all(len(d) == 64 for d in o["files"].values())
