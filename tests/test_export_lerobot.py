"""`python -m data_collection.export --format lerobot` (issue 17): the export loads with LeRobot's own
LeRobotDataset, offline, and matches the source rows; bad input exits 2 and writes nothing."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
       "HF_HUB_OFFLINE": "1"}


def export(*args):
    return run_main("data_collection.export", *args)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "demos"
    p = run_main("data_collection.run", "--category", "drawer,door", "--samples", "2", "--image-size", "64",
                 "--keep-failures", "--workers", "0", "--quiet", "--out", out)
    assert p.returncode == 0, p.stderr
    return out


def test_export_loads_with_lerobot_and_matches_the_rows(dataset, tmp_path):
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as e:
        pytest.skip(f"LeRobot is not installed ({e}); scripts/setup.sh --dev installs it")
    from data_collection.dataset import decode_depth, decode_png, load_frame

    p = export(dataset, tmp_path / "lr", "--format", "lerobot", "--quiet")
    assert p.returncode == 0, p.stderr
    rows = load_frame(dataset)
    rows = rows[rows["executed"]].reset_index(drop=True)
    assert f"wrote {len(rows)} episodes ({len(rows)} frames)" in p.stdout
    assert not rows["demo_success"].all() and rows["demo_success"].any()  # demos and failures both exported
    ds = LeRobotDataset("robomamba-bench/lr", root=tmp_path / "lr")
    assert len(ds) == ds.num_episodes == len(rows)
    for i, row in rows.iterrows():
        item = ds[i]
        assert item["episode_index"].item() == i and item["sample_id"] == row["sample_id"]
        rgb = (item["observation.image"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        assert np.array_equal(rgb, decode_png(row["rgb_png"]))
        assert np.allclose(item["observation.depth"].numpy()[..., 0],
                           decode_depth(row["depth_png"], row["depth_scale"]))
        action = np.concatenate([row["contact_pixel"], row["up_cam"], row["forward_cam"]]).astype(np.float32)
        assert np.array_equal(item["action"].numpy(), action)
        assert item["task"] == row["prompt"]
        assert bool(item["success"]) == row["success"] and bool(item["demo_success"]) == row["demo_success"]
        assert item["dq"].item() == pytest.approx(row["dq"]) and item["cosine"].item() == pytest.approx(row["cosine"])
        assert np.allclose(item["observation.cam2world"].numpy(), row["cam2world"])
    assert not list(tmp_path.glob(".lr*"))  # the partial folder is gone


def test_demos_only(dataset, tmp_path):
    pytest.importorskip("lerobot.datasets.lerobot_dataset", reason="LeRobot is not installed")
    from data_collection.dataset import load_frame

    p = export(dataset, tmp_path / "d", "--demos-only", "--quiet")
    assert p.returncode == 0, p.stderr
    assert f"wrote {int(load_frame(dataset)['demo_success'].sum())} episodes" in p.stdout


def test_bad_input_exits_2_and_writes_nothing(dataset, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    cases = [((dataset, tmp_path / "taken"), "OUT", "exists"),
             ((tmp_path / "nodata", tmp_path / "x"), "DIR", "no manifest.json"),
             ((dataset, tmp_path / "y", "--format", "rlds"), "--format", "invalid choice: 'rlds'")]
    for args, flag, text in cases:
        p = export(*args)
        assert p.returncode == 2 and flag in p.stderr and text in p.stderr, p.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_without_lerobot_the_install_command_is_given(dataset, tmp_path):
    fake = tmp_path / "site" / "lerobot"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('pretend LeRobot is missing')\n")
    p = subprocess.run([sys.executable, "-m", "data_collection.export", str(dataset), str(tmp_path / "o")], cwd=ROOT,
                       env={**ENV, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"},
                       capture_output=True, text=True)
    assert p.returncode == 2 and "pip install --no-deps lerobot==0.4.4" in p.stderr and not (tmp_path / "o").exists()
