"""python -m evaluation.ablations (issue 15): variants trained on one dataset, evaluated on one paired
work list, tables with parameters, success, paired differences and the published rows; resume; bad
flags exit 2."""
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    out = tmp_path_factory.mktemp("abl") / "demos"
    p = run_main("data_collection.run", "--category", "drawer", "--samples", "3", "--image-size", "64", "--workers",
                 "0", "--quiet", "--out", out)
    assert p.returncode == 0, p.stderr
    return out


def ablations(*args):
    return run_main("evaluation.ablations", *args)


def test_head_table_end_to_end_and_resume(demos, tmp_path):
    args = ["--table", "head", "--data", demos, "--out", tmp_path, "--qa-steps", "2", "--qa-eval", "8",
            "--epochs", "1", "--episodes", "2", "--categories", "drawer,Faucet", "--workers", "0"]
    p = ablations(*args)
    assert p.returncode == 0, p.stderr[-3000:]
    df = pd.read_csv(tmp_path / "tables" / "table_ablation_head.csv")
    assert list(df.key) == ["robomamba", "robomamba-mlp1", "robomamba-ssm_mlp2"]
    assert list(df.published_seen_success) == [0.637, 0.621, 0.632]
    # parameters: the trainable part is the head alone, each head its own size
    assert df.trainable_params.tolist() == [265224, 133640, 703496]  # tiny: mlp2, mlp1, ssm_mlp2
    assert (df.trainable_fraction - df.trainable_params / df.total_params).abs().max() < 1e-4
    for col in ("seen", "unseen", "seen_manipllm", "unseen_ci_low", "seen_ci_high"):
        assert df[col].between(0, 1).all(), col
    # paired differences against the default, recomputed from the committed-style records
    recs = {k: [json.loads(line) for line in (tmp_path / "eval" / k / "episodes.jsonl").read_text().splitlines()]
            for k in df.key}
    for _, row in df.iloc[1:].iterrows():
        mine = {r["key"]: r["success"] for r in recs[row.key] if r["group"] == "seen"}
        base = {r["key"]: r["success"] for r in recs["robomamba"] if r["group"] == "seen"}
        assert row.seen_diff_vs_default == pytest.approx(sum(mine.values()) / len(mine)
                                                         - sum(base.values()) / len(base))
        assert 0 <= row.seen_mcnemar_p <= 1
    assert pd.isna(df.seen_diff_vs_default[0]) and df.sim_qa_accuracy.notna().all()
    assert (tmp_path / "tables" / "table_ablation_head.png").stat().st_size > 1000
    assert len(list((tmp_path / "tables" / "runs").glob("*/episodes.jsonl.gz"))) == 3
    meta = json.loads((tmp_path / "tables" / "table_ablation_head.json").read_text())
    assert meta["runs"][0]["command"].startswith("python -m evaluation.ablations --table head") and "machine" in meta
    # the table says what "default" meant: the default model's training settings, and the versions
    assert meta["default_recipe"]["epochs"] == 1 and meta["default_recipe"]["rotation_frame"] == "surface"
    assert "out" not in meta["default_recipe"] and meta["versions"]["torch"]
    # the report's media (--film 1, the default): every episode observed, each variant filmed on the first
    # episode of each category, ending as its evaluation did
    videos = json.loads((tmp_path / "tables" / "media" / "videos" / "index.json").read_text())["videos"]
    assert sorted((v["method"], v["key"]) for v in videos) == sorted(
        (k, f"{c}/00000") for k in df.key for c in ("drawer", "Faucet"))
    assert all(v["matches_evaluation"] and (tmp_path / "tables" / "media" / "videos" / v["file"]).is_file()
               for v in videos)
    assert len(list((tmp_path / "tables" / "media" / "observations").glob("*.jpg"))) == 4
    assert (tmp_path / "tables" / "report" / "index.html").is_file()
    # the other heads start from the default's co-trained backbone
    from agents import factory

    a, b = (factory.load(tmp_path / "checkpoints" / "robomamba"),
            factory.load(tmp_path / "checkpoints" / "robomamba-mlp1"))
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all((sa[k] == sb[k]).all() for k in sa if not k.startswith("head."))
    # rerun: nothing is trained or evaluated again
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "checkpoints").glob("*/model.safetensors")}
    lines = {k: len(v) for k, v in recs.items()}
    p = ablations(*args)
    assert p.returncode == 0, p.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert {k: len((tmp_path / "eval" / k / "episodes.jsonl").read_text().splitlines()) for k in lines} == lines
    assert len(json.loads((tmp_path / "tables" / "table_ablation_head.json").read_text())["runs"]) == 2


@pytest.mark.parametrize("args, text", [
    (["--table", "heads"],
     "invalid choice: 'heads' (choose from 'head', 'cotrain', 'backbone', 'lm', 'recipe', 'all')"),
    (["--base", "/nonexistent"], "--base /nonexistent: not a checkpoint directory"),
    (["--episodes", "0"], "--episodes 0: must be"),
    (["--film", "-1"], "--film -1: must be"),
])
def test_bad_flags_exit_2(args, text, tmp_path):
    p = ablations(*args, "--out", tmp_path / "o")
    assert p.returncode == 2 and text in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "o").exists()
