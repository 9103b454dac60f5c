"""Agent plugins (issue 17, first part): an agent in another installed package registers itself through
the `robomamba_bench.agents` entry point group and is listed and evaluated like a built-in."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from conftest import run_main
from test_progress import check_log

ROOT = Path(__file__).resolve().parents[1]


def test_plugin_is_listed_with_its_origin(installed):
    out = subprocess.run([sys.executable, "-m", "agents"], capture_output=True, text=True, env=installed,
                         cwd=ROOT, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("centre"))
    assert "plugin robomamba-bench-example-plugin 0.1.0" in line and "robomamba_bench_example.agent:CentreAgent" in line
    assert "built-in" in next(line for line in out.splitlines() if line.startswith("random"))


def test_plugin_is_evaluated_like_a_builtin(plugin_path, tmp_path):
    out = tmp_path / "centre"
    p = run_main("evaluation.run", "--agent", "centre", "--categories", "drawer,Faucet", "--episodes", "2",
                 "--workers", "0", "--image-size", "128", "--quiet", "--out", out)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    run = json.loads((out / "run.json").read_text())
    assert len(recs) == 4 and run["agent_class"] == "robomamba_bench_example.agent.CentreAgent"
    assert all(r["agent"] == "centre" and len(r["agent_action"]) == 8 for r in recs)
    assert all(r["success"] or r["failure_reason"] for r in recs)


def test_without_the_plugin_the_name_is_refused(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "evaluation.run", "--agent", "centre", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 2 and "unknown agent 'centre'" in p.stderr and "allowed: robomamba" in p.stderr


def test_a_trainable_plugin_agent_trains_and_runs_in_the_main_job(installed, tmp_path):
    """The example's `centre_offset` registers an agent and its trainer (entry points) and nothing else:
    agents.train trains it, and a reduced main job trains it per training seed, evaluates it beside a
    built-in on the paired work list and puts it in the tables."""
    listing = subprocess.run([sys.executable, "-m", "agents"], capture_output=True, text=True, env=installed,
                             cwd=ROOT, check=True).stdout
    line = next(x for x in listing.splitlines() if x.startswith("centre_offset"))
    assert "trained by robomamba_bench_example.train" in line
    out = tmp_path / "job"
    cmd = [sys.executable, "-m", "evaluation.pipeline", "--agents", "centre_offset,random", "--categories",
           "drawer,Faucet", "--samples", "2", "--episodes", "2", "--train-seeds", "2", "--workers", "0",
           "--image-size", "128", "--out", str(out)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=installed, cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "== train centre_offset@s1: python -m agents.train --agent centre_offset" in p.stdout
    # its log, stderr piped: plain lines, each progress bar (collection's per task, nested on a terminal;
    # the ceiling's; each evaluation's) at most one line per 30 s and one when it ends
    check_log(p.stderr, time.monotonic() - t0, {"drawer": 1, "ceiling": 1, "evaluating": 5, "observations": 1})
    for k, name in ((0, "centre_offset"), (1, "centre_offset@s1")):
        meta = json.loads((out / "checkpoints" / name / "config.json").read_text())
        assert meta["agent"] == "centre_offset" and meta["training"]["config"]["seed"] == k
    table = pd.read_csv(out / "tables" / "table_manipulation.csv")
    assert {"centre_offset@s0", "centre_offset@s1", "random"} <= set(table["method"])
    pairs = pd.read_csv(out / "tables" / "comparisons.csv")
    assert ((pairs.method_a == "centre_offset@s0") & (pairs.method_b == "random")).any()
    recs = [json.loads(x) for x in (out / "eval" / "centre_offset@s0" / "episodes.jsonl").read_text().splitlines()]
    assert len(recs) == 4 and all(len(r["agent_action"]) == 8 for r in recs)
    # the media and the report: every episode's observation, the first episode of each category filmed per
    # method (its first seed), each film repeating its evaluated episode, and the page
    tables = out / "tables"
    obs = json.loads((tables / "media" / "observations" / "index.json").read_text())["episodes"]
    assert set(obs) == {r["key"] for r in recs} and all((tables / "media/observations" / e["file"]).is_file()
                                                       for e in obs.values())
    videos = json.loads((tables / "media" / "videos" / "index.json").read_text())["videos"]
    assert sorted((v["method"], v["key"]) for v in videos) == [
        (m, k) for m in ("centre_offset@s0", "random") for k in ("Faucet/00000", "drawer/00000")]
    assert all(v["matches_evaluation"] is True and (tables / "media/videos" / v["file"]).is_file() for v in videos)
    page = (tables / "report" / "index.html").read_text()
    assert "centre_offset@s0" in page and '"../media/videos/random/drawer_00000.mp4"' in page
    # rerun: every step resumes with nothing to do, training included (the trainings run two at a time on 2
    # cores, each in its own process with its output in OUT/logs; one at a time, in this process, elsewhere)
    again = subprocess.run(cmd, env=installed, cwd=ROOT, capture_output=True, text=True)
    said = again.stdout + "".join(f.read_text() for f in sorted((out / "logs").glob("train_*.log")))
    assert again.returncode == 0 and said.count("already trained with these settings") == 2, again.stderr[-2000:]
