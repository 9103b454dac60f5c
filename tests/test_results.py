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


ABLATION_TABLES = sorted(p.stem[len("table_ablation_"):] for p in (RESULTS.parent / "ablations").glob("table_ablation_*.csv"))


def test_the_committed_ablation_tables_are_known_tables():
    from evaluation.ablations import TABLES

    assert ABLATION_TABLES and set(ABLATION_TABLES) <= set(TABLES), ABLATION_TABLES


@pytest.mark.parametrize("name", ABLATION_TABLES)
def test_ablation_tables_recompute_from_their_records(name):
    """results/ablations: every success rate, interval and paired comparison of a table from the gzipped
    records committed beside it."""
    import pandas as pd

    from evaluation.ablations import DEFAULT, group_rate
    from evaluation.compare import compare
    from evaluation.tables import load_runs

    root = RESULTS.parent / "ablations"
    df = pd.read_csv(root / f"table_ablation_{name}.csv")
    runs = {k: next(iter(load_runs([root / "runs" / k]).values())) for k in df.key}
    for _, row in df.iterrows():
        recs = runs[row.key]["records"]
        assert len(recs) == 1500
        for group in ("seen", "unseen"):
            for crit, col in (("success", group), ("success_manipllm", f"{group}_manipllm")):
                rate, lo, hi = group_rate(recs, group, crit)
                assert (row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"]) == pytest.approx(
                    (round(rate, 4), round(lo, 4), round(hi, 4)), abs=1e-9)
        if row.key != DEFAULT:
            t = compare(runs[row.key], runs[DEFAULT], "success", per_category=False)
            for group in ("seen", "unseen"):
                r = t[t.split == group].iloc[0]
                assert row[f"{group}_diff_vs_default"] == pytest.approx(round(r["diff"], 4), abs=1e-9)
                assert row[f"{group}_mcnemar_p"] == pytest.approx(float(f"{r.mcnemar_p:.3g}"))
