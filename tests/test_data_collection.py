"""Data collection (issue 4): dataset contents, labels, determinism, resume after kill -9, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import kill_9_and_check_orphans, run_main

from data_collection.collect import CollectError, TaskState, collect
from data_collection.config import CollectConfig
from data_collection.dataset import (
    LABEL_COLUMNS,
    decode_depth,
    decode_png,
    decode_sample,
    encode_depth,
    encode_png,
    list_shards,
    load_frame,
    read_block_meta,
)
from data_collection.torch_dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["drawer", "laptop"]


def small(out, **kw) -> CollectConfig:
    base = dict(categories=",".join(TASKS), samples=3, block_size=4, workers=0, out=str(out),
                keep_failures=True)
    return CollectConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def dataset(env, tmp_path_factory):
    """A small in-process collection (2 categories, 3 demos each, failures kept) on the session env."""
    out = tmp_path_factory.mktemp("demos")
    manifest = collect(small(out), TASKS, env=env, progress=False)
    return out, manifest


def test_png_codec_round_trip():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    mask = rng.random((7, 5)) > 0.5
    depth = rng.uniform(0, 9, (7, 5)).astype(np.float32)
    assert np.array_equal(decode_png(encode_png(rgb)), rgb)
    assert np.array_equal(decode_png(encode_png(mask)), mask)
    assert np.abs(decode_depth(encode_depth(depth)) - depth).max() <= 0.0005 + 1e-6


def test_manifest_counts_and_shards(dataset):
    out, manifest = dataset
    assert manifest["status"] == "complete"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["tasks"] == manifest["tasks"]
    for key in ("identity", "collect_config", "env_config", "versions", "runs"):
        assert key in on_disk
    assert on_disk["versions"]["sapien"] and on_disk["identity"]["seed"] == 0
    df = pd.read_parquet(out / "shards")  # plain pandas reads the dataset
    for t in TASKS:
        entry = manifest["tasks"][t]
        rows = df[df["task"] == t]
        assert entry["demos"] == 3 == int(rows["demo_success"].sum())
        assert entry["failures_kept"] == int((~rows["demo_success"]).sum())
        # footers: exactly the trials up to the third demo, and their outcomes
        metas = [read_block_meta(p) for p in list_shards(out, t)]
        assert sum(m["trials"] for m in metas) == entry["trials"]
        assert "".join(m["demo_flags"] for m in metas).count("1") == 3
        assert "".join(m["demo_flags"] for m in metas).endswith("1")  # cut right after the 3rd demo
        assert sorted(rows["trial"]) == list(range(entry["trials"]))  # failures kept: every trial
    assert df["sample_id"].is_unique


def test_labels_shapes_and_ranges(dataset):
    out, _ = dataset
    ds = load_dataset(out)
    assert len(ds) == 6
    import torch

    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=6)))
    n, s = 6, 336
    assert batch["rgb"].shape == (n, 3, s, s) and batch["rgb"].dtype == torch.uint8
    assert batch["depth"].shape == (n, s, s) and batch["depth"].dtype == torch.float32
    assert batch["target_mask"].shape == (n, s, s) and batch["target_mask"].dtype == torch.bool
    assert batch["pixel"].shape == (n, 2) and float(batch["pixel"].min()) >= 0 and float(batch["pixel"].max()) < s
    for k in ("up", "forward"):
        assert torch.allclose(batch[k].norm(dim=1), torch.ones(n), atol=1e-5)
    assert torch.allclose((batch["up"] * batch["forward"]).sum(1), torch.zeros(n), atol=1e-5)
    R = batch["rotation"].double()
    assert torch.allclose(R.transpose(1, 2) @ R, torch.eye(3, dtype=torch.float64).expand(n, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(n, dtype=torch.float64), atol=1e-5)
    assert all(p.startswith("Predict the contact point") for p in batch["prompt"])
    assert set(batch["category"]) == {"StorageFurniture", "Laptop"}
    assert bool(batch["demo_success"].all())
    # the demo filter holds on every kept demo
    df = load_frame(out, successes_only=True)
    moved = (df["dq"].abs() > 0.1) | (df["dq"].abs() / df["joint_range"] > 0.5)
    assert bool((moved & (df["cosine"] > 0.5)).all())


def test_contact_pixel_on_target_mask_and_geometry_consistent(dataset):
    out, _ = dataset
    df = load_frame(out)  # demos and kept failures
    for _, row in df.iterrows():
        s = decode_sample(row)
        r, c = (int(v) for v in s["pixel"])
        assert s["target_mask"][r, c] and s["object_mask"][r, c]
        p = np.asarray(row["contact_point_cam"], dtype=np.float64)
        u = s["intrinsics"].astype(np.float64) @ p
        assert abs(u[0] / u[2] - (c + 0.5)) <= 0.75 and abs(u[1] / u[2] - (r + 0.5)) <= 0.75
        assert abs(s["depth"][r, c] - p[2]) < 2e-3
        T = s["cam2world"].astype(np.float64)
        assert np.allclose(T[:3, :3] @ p + T[:3, 3], row["contact_point_world"], atol=1e-4)
        assert np.allclose(T[:3, :3] @ s["up"], row["up_world"], atol=1e-5)
        info = json.loads(row["info_json"])
        assert info["episode_seed"] == row["episode_seed"] and info["dq"] == pytest.approx(row["dq"], abs=1e-6)


def test_same_seed_same_labels_and_other_seed_differs(dataset, env, tmp_path):
    out, _ = dataset
    again = tmp_path / "again"
    collect(small(again), TASKS, env=env, progress=False)  # the env has a different history now
    a, b = load_frame(out, columns=LABEL_COLUMNS), load_frame(again, columns=LABEL_COLUMNS)
    pd.testing.assert_frame_equal(a, b)
    other = tmp_path / "other"
    collect(small(other, seed=1, categories="laptop", keep_failures=False), ["laptop"], env=env, progress=False)
    c = load_frame(other, columns=["episode_seed", "dq"])
    assert not set(c["episode_seed"]) & set(a["episode_seed"])


def test_resume_changes_nothing_and_settings_mismatch_is_an_error(dataset, env):
    out, _ = dataset
    before = {p: p.read_bytes() for p in list_shards(out)}
    manifest = collect(small(out), TASKS, env=env, progress=False)  # nothing left to do
    assert manifest["runs"][-1]["trials"] == 0
    assert {p: p.read_bytes() for p in list_shards(out)} == before
    with pytest.raises(CollectError, match="seed: 0 there, 5 now"):
        collect(small(out, seed=5), TASKS, env=env, progress=False)
    assert {p: p.read_bytes() for p in list_shards(out)} == before


def test_more_samples_extends_a_cut_block(dataset, env, tmp_path):
    out, manifest = dataset
    import shutil

    grown = tmp_path / "grown"
    shutil.copytree(out, grown)
    m = collect(small(grown, samples=5), TASKS, env=env, progress=False)
    fresh = tmp_path / "fresh"
    collect(small(fresh, samples=5), TASKS, env=env, progress=False)
    pd.testing.assert_frame_equal(load_frame(grown, columns=LABEL_COLUMNS), load_frame(fresh, columns=LABEL_COLUMNS))
    assert all(m["tasks"][t]["demos"] == 5 for t in TASKS)


def test_scheduler_state():
    st = TaskState("t", target=5, limit=100, block_size=4)
    assert st.next_block() == 0
    st.inflight.add(0)
    assert st.next_block() == 1  # prior rate 0.5: one running block is not expected to be enough
    st.inflight.add(1)
    assert st.next_block() == 2
    st.inflight.add(2)
    assert st.next_block() is None  # 3 blocks x 4 trials x 0.5 >= 5
    meta = lambda b, flags: {"block": b, "trials": len(flags), "planned_trials": 4, "demos": flags.count("1")}  # noqa: E731
    st.inflight.discard(1)
    st.done[1] = meta(1, "1111")
    assert not st.complete  # block 0 is still running: the prefix is empty
    st.inflight.discard(0)
    st.done[0] = meta(0, "1000")
    assert st.complete and st.prefix_demos() == 5
    st2 = TaskState("t", target=2, limit=8, block_size=4)
    st2.done[0] = meta(0, "0000")
    st2.done[1] = meta(1, "0000")
    assert st2.next_block() is None  # the trial limit is reached


def _cli(*args, timeout=300):
    return run_main("data_collection.run", *args)  # in this process (conftest.run_main)


@pytest.mark.parametrize("args, message", [
    (["--category", "not_a_thing"], "unknown category 'not_a_thing'"),
    (["--samples", "0"], "--samples 0: must be an integer >= 1"),
    (["--samples", "-3"], "--samples -3"),
    (["--category", "Toilet"], "split 'train' does not exist for unseen category Toilet"),
    (["--block-size", "0"], "--block-size 0"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    r = _cli(*args, "--out", str(out))
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not out.exists()


def test_a_category_short_of_its_samples_exits_1_unless_allowed(env, tmp_path):
    """--max-trials reached before --samples: the warning names the category and its count; exit 1, or 0
    with --allow-short (what the main job passes on a PartNet directory); the manifest says so either way."""
    args = ["--category", "drawer", "--samples", "50", "--max-trials", "4", "--block-size", "4", "--image-size",
            "64", "--workers", "0", "--quiet"]
    r = _cli(*args, "--out", str(tmp_path / "a"))
    assert r.returncode == 1 and "gave up after --max-trials 4 on: drawer" in r.stderr
    r = _cli(*args, "--allow-short", "--out", str(tmp_path / "b"))
    assert r.returncode == 0 and "gave up after --max-trials 4 on: drawer" in r.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["status"] != "complete" and not manifest["tasks"]["drawer"]["complete"]


def test_cli_refuses_a_dataset_with_other_settings(dataset, tmp_path):
    out, _ = dataset
    before = (out / "manifest.json").read_bytes()
    r = _cli("--category", "drawer", "--samples", "3", "--block-size", "4", "--keep-failures",
             "--seed", "9", "--out", str(out))
    assert r.returncode == 2 and "other settings" in r.stderr and "seed: 0 there, 9 now" in r.stderr
    assert (out / "manifest.json").read_bytes() == before


def test_kill_9_then_rerun_gives_each_sample_once(env, tmp_path):
    """Two worker processes; the collector is killed (SIGKILL) once a shard exists; its workers
    exit on their own; the same command then finishes with exactly N unique demos, identical to
    an uninterrupted in-process run."""
    out = tmp_path / "killed"
    args = ["--category", ",".join(TASKS), "--samples", "4", "--block-size", "2", "--workers", "2",
            "--quiet", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "data_collection.run", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not list_shards(out):
        time.sleep(0.2)
    assert proc.poll() is None, "the collection finished before it could be interrupted"
    kill_9_and_check_orphans(proc, "its collector")
    pd.read_parquet(out / "shards")  # whatever is visible is readable
    n_before = len(list_shards(out))
    r = _cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    df = load_frame(out, columns=LABEL_COLUMNS)
    assert df["sample_id"].is_unique
    assert df.groupby("task").size().to_dict() == {t: 4 for t in TASKS}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and n_before >= 1
    assert [r["status"] for r in manifest["runs"]] == ["killed", "complete"]
    ref = tmp_path / "reference"
    collect(CollectConfig(categories=",".join(TASKS), samples=4, block_size=2, workers=0, out=str(ref)),
            TASKS, env=env, progress=False)
    pd.testing.assert_frame_equal(df, load_frame(ref, columns=LABEL_COLUMNS))


def test_stats_cli_table_and_grid(dataset, tmp_path):
    out, manifest = dataset
    from data_collection import stats

    png, csv = tmp_path / "grid.png", tmp_path / "stats.csv"
    assert stats.main([str(out), "--out", str(png), "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    for t in TASKS:
        row = table[table["task"] == t].iloc[0]
        entry = manifest["tasks"][t]
        assert row["demos"] == entry["demos"] and row["trials"] == entry["trials"]
        assert row["demo_rate"] == pytest.approx(entry["demos"] / entry["trials"], abs=1e-3)
    assert table.iloc[-1]["task"] == "TOTAL" and table.iloc[-1]["demos"] == 6
    from PIL import Image

    w, h = Image.open(png).size
    assert w > 300 and h > 150
    r = run_main("data_collection.stats", tmp_path / "nope")
    assert r.returncode == 2 and "no manifest.json" in r.stderr
