"""The committed results are what their committed records say: every table of results/default,
recomputed here from the per-episode records committed beside it, is identical to the committed one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.tables import write_tables

RESULTS = Path(__file__).resolve().parents[1] / "results" / "default"
TABLES = ("table_manipulation.csv", "table_manipulation_manipllm.csv", "summary.csv", "speed.csv",
          "comparisons.csv", "seeds.csv", "failures.csv")


def test_committed_tables_recompute_from_committed_records(tmp_path):
    job = json.loads((RESULTS / "pipeline.json").read_text())
    runs = [RESULTS / "runs" / name for name in job["runs"]]
    assert all((r / "run.json").exists() and (r / "episodes.jsonl.gz").exists() for r in runs), runs
    paths = write_tables(runs, tmp_path, reference=True, ceiling_dir=RESULTS / "runs" / job["ceiling"])
    for name in TABLES:
        assert paths[name].read_text() == (RESULTS / name).read_text(), name


@pytest.mark.parametrize("name", TABLES)
def test_every_committed_table_is_listed(name):
    assert (RESULTS / name).exists()


def test_physics_changes_recompute_from_their_records():
    """results/physics/physics_changes.csv (bench/physics.py) follows from the committed records."""
    import gzip
    import importlib.util
    import json

    import pandas as pd

    spec = importlib.util.spec_from_file_location("bench_physics", Path(__file__).resolve().parents[1] / "bench" / "physics.py")
    bench = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = bench  # its dataclasses look themselves up there
    spec.loader.exec_module(bench)
    table = pd.read_csv(RESULTS.parent / "physics" / "physics_changes.csv").fillna(0)
    runs = RESULTS.parent / "physics" / "runs"
    for k, (name, _, _) in enumerate(bench.VARIANTS):
        for agent in ("oracle", "random", "robomamba"):
            with gzip.open(runs / f"{k}_{agent}" / "episodes.jsonl.gz", "rt") as f:
                recs = [json.loads(line) for line in f if line.strip()]
            want = bench.row(name, agent, recs)
            got = table[(table.variant == name) & (table.agent == agent)].iloc[0]
            for col, v in want.items():
                assert got[col] == v, (name, agent, col, got[col], v)
