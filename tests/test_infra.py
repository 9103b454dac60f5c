"""The shared run machinery: flags from config dataclasses, run directories, worker pools, and the
default output paths of every CLI (all under folders git ignores)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.cli import ConfigError, check_at_least, option, parse_config
from infra.rundir import RunDir
from infra.workers import InlineWorkers, WorkerDied, WorkerPool

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Config:
    samples: int = option(5, "how many")
    categories: str = option("drawer", "which", flag="--category")
    rate: float | None = option(None, "a rate")
    keep: bool = option(False, "keep them")
    hidden: str = option("x", "not a flag", cli=False)
    sizes: tuple[int, ...] = option((1, 2), "several values")

    def __post_init__(self):
        check_at_least(self, samples=1, sizes=1)


def test_flags_come_from_the_dataclass_with_types_and_help(capsys):
    cfg, _ = parse_config(_Config, ["--category", "laptop", "--rate", "0.5", "--keep"])
    assert cfg == _Config(samples=5, categories="laptop", rate=0.5, keep=True)
    assert parse_config(_Config, ["--sizes", "3", "4", "5"])[0].sizes == (3, 4, 5)
    with pytest.raises(SystemExit):
        parse_config(_Config, ["--help"])
    out = capsys.readouterr().out
    assert "--category CATEGORY" in out and "which (default: drawer)" in out and "--no-keep" in out
    assert "--hidden" not in out


def test_a_bad_value_names_the_flag_and_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        parse_config(_Config, ["--samples", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --samples 0: must be an integer >= 1"
    with pytest.raises(SystemExit) as e:
        parse_config(_Config, ["--sizes", "2", "0"])
    assert e.value.code == 2 and capsys.readouterr().err.strip() == "error: --sizes 0: must be an integer >= 1"
    with pytest.raises(ConfigError) as e:
        _Config(samples=True)  # a bool is no count
    assert e.value.field == "samples"


def test_run_dir_refuses_other_settings_and_marks_killed_runs(tmp_path):
    rd = RunDir(tmp_path / "r", "run.json", "fmt/v1", {"seed": 0}, "a thing")
    rd.start(["cmd"], new={"extra": 1})
    rd2 = RunDir(tmp_path / "r", "run.json", "fmt/v1", {"seed": 0}, "a thing")
    rec = rd2.start(["cmd", "again"])  # the first run never finished: killed
    assert [r["status"] for r in rec["runs"]] == ["killed", "running"] and rec["extra"] == 1
    rd2.finish("complete", episodes=3)
    saved = json.loads((tmp_path / "r" / "run.json").read_text())
    assert saved["status"] == "complete" and saved["runs"][-1]["episodes"] == 3
    assert saved["runs"][-1]["seconds"] >= 0
    with pytest.raises(ValueError, match=r"seed: 0 there, 1 now"):
        RunDir(tmp_path / "r", "run.json", "fmt/v1", {"seed": 1}, "a thing").existing()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("")
    with pytest.raises(ValueError, match="not empty"):
        RunDir(tmp_path / "other", "run.json", "fmt/v1", {}, "a thing").start()


class Doubler:
    """A handler for the pool tests: replies 2x; 'die' kills the process, 'raise' raises."""

    def __init__(self, offset: int):
        self.offset = offset

    def handle(self, message, emit):
        if message == "die":
            os._exit(3)
        if message == "raise":
            raise RuntimeError("boom")
        emit(2 * message + self.offset)


def _collect(pool, n, timeout=60.0):
    import time

    got, t0 = [], time.time()
    while len(got) < n and time.time() - t0 < timeout:
        got += pool.poll(timeout=0.5)
    return got


def test_worker_pool_runs_handlers_restarts_the_dead_and_reports_errors():
    pool = WorkerPool(Doubler, (1,), 2)
    try:
        for w, m in [(0, 1), (1, 2), (0, 3)]:
            pool.send(w, m)
        assert sorted(_collect(pool, 3)) == [(0, 3), (0, 7), (1, 5)]
        pool.send(1, "die")
        import time

        t0 = time.time()
        while not pool.dead() and time.time() - t0 < 30:
            time.sleep(0.1)
        assert pool.dead() == [(1, 3)]
        pool.restart(1)
        pool.send(1, 10)
        assert _collect(pool, 1) == [(1, 21)] and pool.dead() == []
        pool.send(0, "raise")
        with pytest.raises(WorkerDied, match="boom"):
            _collect(pool, 1)
    finally:
        pool.close()


def test_inline_workers_answer_at_once():
    pool = InlineWorkers(Doubler(0))
    pool.send(0, 4)
    assert pool.poll() == [(0, 8)] and pool.poll() == []


def option_configs() -> list[type]:
    """Every configuration dataclass of the project's packages and bench scripts that makes flags with
    infra.cli.option() (found by reading each module that calls it, not from a hand-kept list)."""
    import importlib.util

    found = []
    for path in sorted(p for d in ("infra", "sim_envs", "data_collection", "agents", "evaluation", "bench")
                       for p in (ROOT / d).rglob("*.py")):
        if "option(" not in path.read_text() or path.name == "cli.py" and path.parent.name == "infra":
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.parts[0] == "bench":  # scripts: loaded from their files, under a name of their own
            name = "bench_" + rel.name
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # their dataclasses look themselves up there
            spec.loader.exec_module(module)
        else:
            name = ".".join(rel.parts).removesuffix(".__init__")
            module = importlib.import_module(name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == name
                    and any("help" in f.metadata for f in dataclasses.fields(obj))):
                found.append(obj)
    return found


@pytest.fixture(scope="module")
def configs():
    return option_configs()


def test_the_configs_are_found(configs):
    names = {c.__name__ for c in configs}
    # the ones a hand-kept list missed before, and the main ones
    assert {"AblationConfig", "CeilingConfig", "ProbeConfig", "ServeConfig", "CollectConfig", "EvalConfig",
            "PipelineConfig", "TablesConfig", "CompareConfig"} <= names, sorted(names)
    assert len(configs) >= 30, sorted(names)


def test_every_cli_config_field_has_help(configs):
    missing = [f"{c.__module__}.{c.__name__}.{f.name}" for c in configs for f in dataclasses.fields(c)
               if not f.metadata.get("help")]
    assert not missing, f"fields without help text (infra.cli.option): {missing}"


def test_default_outputs_are_ignored_by_git(configs):
    """Every CLI's default output paths: running any of them with its defaults leaves `git status` clean
    (bench scripts are the exception: run by hand, they write the committed figures under results/)."""
    checked = []
    for c in configs:
        if c.__module__.startswith("bench_"):
            continue
        try:
            made = c()  # a default that is derived (EvalConfig: out/eval/LABEL) is set when it is made
        except Exception:  # a config that cannot be made without arguments: its fields' defaults
            made = None
        for f in dataclasses.fields(c):
            value = getattr(made, f.name) if made is not None else f.default
            if f.name not in ("out", "tables") or not isinstance(value, str) or not value:
                continue
            assert not os.path.isabs(value), f"{c.__name__}.{f.name}"
            r = subprocess.run(["git", "check-ignore", "-q", "--no-index", value], cwd=ROOT)
            assert r.returncode == 0, f"{c.__module__}.{c.__name__}.{f.name} = {value!r} is not ignored by git"
            checked.append(c.__name__)
    assert {"CollectConfig", "EvalConfig", "PipelineConfig", "CeilingConfig", "AblationConfig"} <= set(checked)
