"""Evaluator and tables (issue 6): paired work list, determinism, resume after kill -9, recorded
failures, bad input, paper-layout tables, Wilson intervals. CPU, small images, few episodes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import kill_9_and_check_orphans

from evaluation import run as cli
from evaluation.config import EvalConfig
from evaluation.episodes import work_items
from evaluation.runner import EPISODES, RUN, evaluate, read_episodes
from evaluation.tables import REFERENCE_DIR, reference_columns, wilson, write_tables

ROOT = Path(__file__).resolve().parents[1]
CATS = "Safe,Faucet"  # one seen, one unseen category
SMALL = ["--categories", CATS, "--image-size", "128", "--workers", "0", "--quiet"]
TIMING = {"act_seconds", "agent_seconds", "reset_seconds", "step_seconds", "worker", "batch", "batch_size"}


def results(out) -> dict:
    """key -> record without timing fields, for comparing runs."""
    return {r["key"]: {k: v for k, v in r.items() if k not in TIMING} for r in read_episodes(Path(out) / EPISODES)}


def assert_same(a: dict, b: dict) -> None:
    """The same episodes with bit-identical records (timings aside): every episode runs on a fresh
    scene, so neither the episodes simulated before it nor the worker that ran it matter."""
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].keys() == b[k].keys(), k
        for f, v in a[k].items():
            assert v == b[k][f], (k, f, v, b[k][f])


def run_main(*args) -> int:
    try:
        return cli.main([*SMALL, *args])
    except SystemExit as e:
        return e.code


@pytest.fixture(scope="module")
def runs(tmp_path_factory, env):
    """random twice and oracle once, in this process, 3 episodes of each category. (`env`, the
    session's environment, stays alive meanwhile: SAPIEN then keeps its compiled shaders, and a new
    environment costs 0.3 s instead of 12 s.)"""
    base = tmp_path_factory.mktemp("eval")
    dirs = {"random": base / "random", "random2": base / "random2", "oracle": base / "oracle"}
    assert run_main("--agent", "random", "--episodes", "3", "--record", "1", "--out", str(dirs["random"])) == 0
    assert run_main("--agent", "random", "--episodes", "3", "--batch-size", "2", "--envs-per-worker", "2",
                    "--out", str(dirs["random2"])) == 0
    assert run_main("--agent", "oracle", "--episodes", "3", "--out", str(dirs["oracle"])) == 0
    return dirs


# ---------------------------------------------------------------------------------------- work list
def test_work_list_is_seeded_balanced_and_shardable():
    a = work_items(seed=0, categories=CATS, episodes=25)
    assert a == work_items(seed=0, categories=CATS, episodes=25)  # no hidden state (e.g. worker count)
    assert [it.key for it in a[:2]] == ["Safe/00000", "Safe/00001"] and a[-1].key == "Faucet/00024"
    assert {it.group for it in a} == {"seen", "unseen"}
    # each category's items do not depend on the other categories or on the episode count
    alone = work_items(seed=0, categories="faucet", episodes=10)
    assert [(i.key, i.instance_id, i.episode_seed) for i in alone] == \
           [(i.key, i.instance_id, i.episode_seed) for i in a if i.category == "Faucet"][:10]
    # 25 episodes over the 20 test instances: every instance once or twice
    counts = pd.Series([it.instance_id for it in a if it.category == "Safe"]).value_counts()
    assert len(counts) == 20 and counts.max() == 2 and set(counts.index) <= set(range(80, 100))
    # shards partition the list
    shards = [work_items(seed=0, categories=CATS, episodes=25, shard=(i, 3)) for i in range(3)]
    assert sorted((it for s in shards for it in s), key=lambda it: it.index) == a
    assert work_items(seed=1, categories=CATS, episodes=25) != a


# ---------------------------------------------------------------------------------------- runs
def test_same_seed_gives_identical_episodes(runs, tmp_path):
    out = tmp_path / "again"
    assert run_main("--agent", "random", "--episodes", "3", "--out", str(out)) == 0
    a = results(runs["random"])
    assert len(a) == 6 and results(out) == a  # the same command: identical, bit for bit
    assert_same(a, results(runs["random2"]))  # other batching and environment count


def test_a_learned_agents_records_do_not_depend_on_batching(tmp_path):
    """robomamba's action for an episode does not depend on the episodes that share its act() call (issue 29):
    a run in this process acting on single observations, a run with 2 worker processes and dynamic batches of
    up to 4 (timing decides which episodes share a call), and a run in this process whose act() calls all hold
    4 observations give bit-identical records (timings aside). A batched forward would differ here by up to
    1e-7 (bench/batch_invariance.py)."""
    import torch

    before = torch.get_num_threads()
    args = ["--agent", "robomamba", "--untrained", "--episodes", "2"]
    out = {k: tmp_path / k for k in ("single", "dynamic", "fours")}
    assert run_main(*args, "--workers", "0", "--batch-size", "1", "--out", str(out["single"])) == 0
    assert run_main(*args, "--workers", "2", "--envs-per-worker", "2", "--batch-size", "4",
                    "--out", str(out["dynamic"])) == 0
    assert run_main(*args, "--envs-per-worker", "4", "--batch-size", "4", "--out", str(out["fours"])) == 0
    assert {r["batch_size"] for r in read_episodes(out["fours"] / EPISODES)} == {4}
    a = results(out["single"])
    assert len(a) == 4 and all(r["agent_action"] for r in a.values())
    assert_same(a, results(out["dynamic"]))
    assert_same(a, results(out["fours"]))
    # the agent ran on the cores the 2 workers left (at least 1), and this process got its threads back
    threads = json.loads((out["dynamic"] / RUN).read_text())["runs"][-1]["agent_threads"]
    assert threads == EvalConfig(agent="robomamba", workers=2).torch_threads() >= 1
    assert torch.get_num_threads() == before


def test_the_agent_gets_the_cores_the_simulation_workers_leave(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert [EvalConfig(agent="random", workers=w).torch_threads() for w in (0, 1, 2, 4, 6)] == [4, 3, 2, 1, 1]
    assert EvalConfig(agent="random", workers=2, executor="ray").torch_threads() == 4  # no local workers
    assert EvalConfig(agent="random", workers=2, agent_threads=3).torch_threads() == 3


def test_work_items_are_identical_across_agents(runs):
    a, o = results(runs["random"]), results(runs["oracle"])
    assert a.keys() == o.keys()
    for k in a:
        for f in ("instance_id", "episode_seed", "object_id", "scale", "target_joint", "qpos_init",
                  "camera_distance", "camera_azimuth_deg", "camera_elevation_deg"):
            assert a[k][f] == o[k][f], (k, f)
    assert sum(r["success"] for r in o.values()) >= 4  # the privileged expert mostly opens them


def test_records_and_run_json(runs):
    recs = read_episodes(runs["oracle"] / EPISODES)
    r = recs[0]
    for f in ("key", "index", "category", "group", "split", "instance_id", "episode_seed", "success",
              "success_manipllm", "dq", "cosine", "failure_reason", "agent_action", "action", "act_seconds",
              "batch_size", "reset_seconds", "step_seconds", "method"):
        assert f in r, f
    assert len(r["agent_action"]) == 8
    run = json.loads((runs["oracle"] / RUN).read_text())
    assert run["status"] == "complete" and run["agent"] == "oracle" and run["needs_privileged"]
    assert run["parameter_counts"] == {"total": 0, "trainable": 0}
    assert run["versions"]["sapien"] and run["seeds"]["master"] == 0
    assert run["runs"][-1]["episodes"] == 6 and run["runs"][-1]["control_hz"] > 0
    videos = list((runs["random"] / "record").glob("*.mp4"))
    assert [v.name for v in videos] == ["00000_Safe_000.mp4"]
    assert (runs["random"] / "record" / "00000_Safe_000.png").exists()
    import imageio.v3 as iio

    frames = iio.imread(videos[0], index=None)
    rec = next(r for r in read_episodes(runs["random"] / EPISODES) if r["index"] == 0)
    from sim_envs.recording import RECORD_EVERY, VIDEO_FPS

    # the annotated still for a second, a frame every RECORD_EVERY physics steps (one at the start and
    # one at the end), then the last frame held half a second
    rollout = rec["sim_steps"] // RECORD_EVERY + 2 if rec["sim_steps"] else 0  # nothing ran: no rollout
    assert len(frames) == VIDEO_FPS + rollout + VIDEO_FPS // 2
    assert frames.shape[1:] == (128 * 4 + 34, 128 * 4, 3)


def test_rerun_of_a_finished_run_adds_nothing(runs, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(runs["random"], out)
    before = (out / EPISODES).read_bytes()
    assert run_main("--agent", "random", "--episodes", "3", "--out", str(out)) == 0
    assert (out / EPISODES).read_bytes() == before


def test_truncated_last_line_is_redone(runs, tmp_path):
    out = tmp_path / "cut"
    shutil.copytree(runs["random"], out)
    lines = (out / EPISODES).read_bytes().splitlines(keepends=True)
    (out / EPISODES).write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert run_main("--agent", "random", "--episodes", "3", "--out", str(out)) == 0
    assert results(out) == results(runs["random"]) and len(read_episodes(out / EPISODES)) == 6


def test_other_settings_are_refused(runs, capsys):
    out = runs["random"]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert run_main("--agent", "random", "--episodes", "3", "--seed", "1", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "seed: 0 there, 1 now" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("args, message", [
    (["--agent", "nope"], "--agent nope: unknown agent 'nope'; allowed: robomamba"),
    (["--agent", "robomamba", "--checkpoint", "/no/such/ckpt"], "--checkpoint /no/such/ckpt: no such directory"),
    (["--agent", "random", "--categories", "Safe,Teapot"], "unknown category 'teapot'; allowed: Safe"),
    (["--agent", "random", "--episodes", "0"], "--episodes 0: must be an integer >= 1"),
    (["--agent", "random", "--batch-size", "-2"], "--batch-size -2: must be an integer >= 1"),
    (["--agent", "random", "--agent-threads", "-1"], "--agent-threads -1: must be an integer >= 0"),
    (["--agent", "random", "--shard", "2/2"], "--shard"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert run_main(*args, "--out", str(out)) == 2
    lines = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not out.exists()


def test_invalid_checkpoint_exits_2(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"format": "something else"}))
    out = tmp_path / "never"
    assert run_main("--agent", "robomamba", "--checkpoint", str(ckpt), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --checkpoint {ckpt}: format 'something else'") and not out.exists()


class Boom:
    """An agent that fails: raises on even calls, returns NaN rows on odd ones."""

    name, needs_privileged, calls = "boom", False, 0

    def act(self, observations, seeds=None, privileged=None):
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("kaput")
        return np.full((len(observations), 8), np.nan)

    def parameter_counts(self):
        return {"total": 0, "trainable": 0}


def test_agent_failures_are_recorded_not_dropped(tmp_path):
    cfg = EvalConfig(agent="boom", categories=CATS, episodes=2, workers=0, image_size=128, out=str(tmp_path / "b"))
    items = work_items(0, CATS, 2)
    run = evaluate(cfg, Boom(), items, len(items), ["Safe", "Faucet"], progress=False)
    recs = read_episodes(tmp_path / "b" / EPISODES)
    assert run["status"] == "complete" and sorted(r["key"] for r in recs) == sorted(i.key for i in items)
    assert not any(r["success"] or r["success_manipllm"] for r in recs)
    reasons = [r["failure_reason"] for r in recs]
    assert sum(x.startswith("agent_error: RuntimeError: kaput") for x in reasons) == 2
    assert sum(x.startswith("invalid_action") for x in reasons) == 2, reasons  # NaN rows: the env says why


class PoisonPill:
    """Random actions, but act() raises for any batch holding the episode with seed `bad`."""

    name, needs_privileged = "poison", False

    def __init__(self, bad: int):
        from agents.baselines.random_agent import RandomAgent

        self.bad, self.random = bad, RandomAgent()

    def act(self, observations, seeds=None, privileged=None):
        if self.bad in seeds:
            raise RuntimeError("poisoned")
        return self.random.act(observations, seeds=seeds)

    def parameter_counts(self):
        return {"total": 0, "trainable": 0}


def test_one_failing_item_leaves_the_rest_of_its_batch_good(tmp_path):
    items = work_items(0, "Safe", 4)
    cfg = EvalConfig(agent="poison", categories="Safe", episodes=4, workers=0, envs_per_worker=4, batch_size=4,
                     image_size=128, out=str(tmp_path / "p"))
    evaluate(cfg, PoisonPill(items[2].episode_seed), items, len(items), ["Safe"], progress=False)
    recs = {r["key"]: r for r in read_episodes(tmp_path / "p" / EPISODES)}
    assert len(recs) == 4 and all(r["batch_size"] == 4 for r in recs.values())  # they were one batch
    bad = recs.pop(items[2].key)
    assert bad["failure_reason"] == "agent_error: RuntimeError: poisoned" and bad["agent_action"] is None
    assert all(not r["failure_reason"].startswith("agent_error") and r["agent_action"] for r in recs.values())


def test_oracle_without_a_view_fails_only_that_episode(env):
    from agents.baselines.oracle import OracleAgent

    obs, _ = env.reset(seed=4, options={"task": "drawer"})
    a = OracleAgent().act([obs, obs], seeds=[1, 1], privileged=[None, env.unwrapped.privileged()])
    assert np.all(np.isnan(a[0])) and np.all(np.isfinite(a[1]))


def test_kill_9_then_rerun_counts_every_episode_once(runs, tmp_path):
    """A worker process (one: a second would double the ~15 s SAPIEN start-up on a 2-core CI box);
    the evaluator is killed (SIGKILL) after a few episodes; its worker exits on its own; the same
    command (here inline) finishes the list, each episode exactly once and identical to the
    uninterrupted inline run (6 episodes per category extend the fixture's 3)."""
    out = tmp_path / "killed"
    args = ["--agent", "random", "--episodes", "6", "--out", str(out)]
    cmd = [sys.executable, "-m", "evaluation.run", *SMALL[:-3], "--workers", "1", "--quiet", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    log = out / EPISODES
    while time.time() < deadline and proc.poll() is None and not (log.exists() and log.read_bytes().count(b"\n") >= 2):
        time.sleep(0.02)
    assert proc.poll() is None, "the evaluation finished before it could be interrupted"
    kill_9_and_check_orphans(proc, "the evaluator")
    n_before = len(read_episodes(log))
    assert 2 <= n_before < 12
    assert run_main(*args) == 0
    recs = read_episodes(log)
    assert len(recs) == 12 and len({r["key"] for r in recs}) == 12
    run = json.loads((out / RUN).read_text())
    assert [r["status"] for r in run["runs"]] == ["killed", "complete"] and run["status"] == "complete"
    got, ref = results(out), results(runs["random"])
    drop = lambda r: {k: v for k, v in r.items() if k != "index"}  # noqa: E731  (position in a longer list)
    assert_same({k: drop(got[k]) for k in ref}, {k: drop(v) for k, v in ref.items()})


# ---------------------------------------------------------------------------------------- tables
def test_wilson_interval():
    lo, hi = wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert all(np.isnan(wilson(0, 0)))


def test_tables_follow_the_paper_layout(runs, tmp_path):
    paths = write_tables([runs["random"], runs["oracle"]], tmp_path / "t", reference=True)
    ref_header = (REFERENCE_DIR / "robomamba_table2_manipulation.csv").read_text().splitlines()[0]
    table_text = paths["table_manipulation.csv"].read_text()
    assert table_text.splitlines()[0] == ref_header
    table = pd.read_csv(paths["table_manipulation.csv"])
    assert list(table.columns) == reference_columns() and len(table.columns) == 33
    assert list(table["method"][:2]) == ["random", "oracle"] and "RoboMamba (paper)" in set(table["method"])
    row = table.set_index("method").loc["oracle"]
    assert row["seen_AVG"] == row["Safe"] and row["unseen_AVG"] == row["Faucet"] and np.isnan(row["Door"])
    assert ",0.63," in table_text  # RoboMamba's published seen average, 2 decimals
    summary = pd.read_csv(paths["summary.csv"])
    s = summary[(summary.method == "random") & (summary.criterion == "success")]
    assert set(s.category) == {"Safe", "Faucet", "mean_over_categories", "mean_over_episodes"}
    one = s[s.category == "Safe"].iloc[0]
    assert one.episodes == 3 and (round(one.wilson_low, 4), round(one.wilson_high, 4)) == \
           tuple(round(x, 4) for x in wilson(int(one.successes), 3))
    assert set(summary.criterion) == {"success", "success_manipllm"}
    comp = pd.read_csv(paths["comparisons.csv"])  # the two runs, paired on their 6 shared episodes
    assert set(zip(comp.method_a, comp.method_b)) == {("random", "oracle")}
    assert set(comp.criterion) == {"success", "success_manipllm"} and set(comp.split) == {"seen", "unseen", "all"}
    every = comp[(comp.split == "all") & (comp.criterion == "success")].iloc[0]
    assert every.episodes == 6 and every.both + every.only_a + every.only_b + every.neither == 6
    assert every.ci_low <= every["diff"] <= every.ci_high and 0 < every.mcnemar_p <= 1
    speed = pd.read_csv(paths["speed.csv"]).set_index("method")
    assert speed.loc["random", "control_hz"] > 0 and speed.loc["RoboMamba (paper)", "control_hz"] == 9.0
    assert pd.isna(speed.loc["random", "train_s"])  # nothing trained
    from evaluation.tables import training_seconds

    assert training_seconds({"training": {"wall_s": 12.5}}) == 12.5  # one-stage trainers (Where2Act, ...)
    assert training_seconds({"training": {"stages": {"cotrain": {"wall_s": 3.0}, "head": {"wall_s": 4.5}}}}) == 7.5
    assert paths["plot"].stat().st_size > 10_000


def test_help_documents_every_flag_with_its_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--agent", "--checkpoint", "--categories", "--episodes", "--workers", "--batch-size", "--seed",
                 "--out", "--record", "--image-size", "--shard", "--envs-per-worker", "--device"):
        assert flag in text, flag
    assert "(default: 50)" in text and "(default: 16)" in text and "(default: 0)" in text


def test_oracle_video_shows_the_pull(tmp_path, env):
    """`--record 2` on the oracle writes two MP4s in which the target part moves: the last rollout frame
    differs from the first where the drawer was pulled."""
    import imageio.v3 as iio

    out = tmp_path / "video"
    assert cli.main(["--agent", "oracle", "--categories", "drawer", "--episodes", "2", "--record", "2",
                     "--workers", "0", "--quiet", "--out", str(out)]) == 0
    videos = sorted((out / "record").glob("*.mp4"))
    assert len(videos) == 2
    recs = {r["index"]: r for r in read_episodes(out / EPISODES)}
    from sim_envs.recording import VIDEO_FPS

    for k, v in enumerate(videos):
        frames = iio.imread(v, index=None).astype(int)
        first, last = frames[VIDEO_FPS], frames[-1]
        changed = np.abs(first - last).sum(-1) > 60
        if recs[k]["success"]:
            assert changed.sum() > 100, (v, changed.sum())


def test_backfilling_pixel_on_target_gives_what_the_evaluation_recorded(runs, tmp_path, monkeypatch):
    """bench/backfill_pixel_on_target.py, on copies of two runs with the field removed, replays the resets
    and puts back exactly what the evaluations recorded (the oracle's pixels on the target part, random's
    mostly not), every other byte of each line unchanged."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("backfill", Path(__file__).parents[1] / "bench" /
                                                  "backfill_pixel_on_target.py")
    backfill = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "backfill", backfill)  # its dataclass looks its module up
    spec.loader.exec_module(backfill)
    want, dirs = {}, []
    for name in ("random", "oracle"):
        d = tmp_path / name
        shutil.copytree(runs[name], d)
        lines = (d / EPISODES).read_text().splitlines()
        want[name] = lines
        recs = [json.loads(x) for x in lines]
        assert all("pixel_on_target" in r for r in recs)
        for r in recs:
            del r["pixel_on_target"]
        (d / EPISODES).write_text("".join(json.dumps(r) + "\n" for r in recs))
        dirs.append(str(d))
    assert backfill.main([*dirs, "--workers", "0"]) == 0
    for name in ("random", "oracle"):
        got = [json.loads(x) for x in (tmp_path / name / EPISODES).read_text().splitlines()]
        assert {r["key"]: r["pixel_on_target"] for r in got} == \
               {r["key"]: r["pixel_on_target"] for r in map(json.loads, want[name])}
    assert all(json.loads(x)["pixel_on_target"] for x in want["oracle"] if json.loads(x)["failure_reason"] == "")
    assert backfill.main([*dirs, "--workers", "0"]) == 0  # already there: left alone


def test_the_main_jobs_evaluations_at_once_give_the_records_of_one_after_another(tmp_path):
    """evaluation.pipeline --eval-jobs 2: the evaluations run two at a time, each in its own process with its
    share of the workers and the agent threads it would have alone (printed in its command); every record is
    the one the default (one after the other, in this process) writes, timings aside, and so are the tables."""
    from conftest import run_main

    job = ["--agents", "random,chance", "--categories", "Safe", "--episodes", "2", "--image-size", "128",
           "--workers", "2", "--film", "0", "--no-report"]
    one = run_main("evaluation.pipeline", *job, "--out", tmp_path / "one")
    two = run_main("evaluation.pipeline", *job, "--eval-jobs", "2", "--out", tmp_path / "two")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-2000:], two.stderr[-2000:])
    assert "--workers 1 --executor local --agent-threads" in two.stdout
    for run in ("random", "chance"):
        a, b = results(tmp_path / "one" / "eval" / run), results(tmp_path / "two" / "eval" / run)
        assert len(a) == 2 and a == b, run
        assert (tmp_path / "two" / "logs" / f"evaluate_{run}.log").is_file()
    assert ((tmp_path / "one" / "tables" / "summary.csv").read_text()
            == (tmp_path / "two" / "tables" / "summary.csv").read_text())
