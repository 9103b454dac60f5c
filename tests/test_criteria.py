"""The criteria registry (evaluation.results.criteria): a criterion registered in one place reaches the
paper table, summary, comparisons, seeds and failures tables, the ceiling search and the run summary."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.results.criteria import Criterion, UnknownCriterionError, criteria, get, names, register, unregister
from evaluation.results.records import load_run
from evaluation.tables import AGGREGATION_FILE, table_files, write_tables

RUNS = Path(__file__).resolve().parents[1] / "results" / "default" / "runs"


def strict(record: dict) -> bool:
    """A stricter criterion than RoboMamba's: |dq| > 0.3, moved by the pull."""
    return abs(record.get("dq") or 0.0) > 0.3 and bool(record.get("pulled"))


@pytest.fixture
def registered():
    c = register(Criterion("success_strict", "|dq| > 0.3, moved by the pull", reads=("dq", "pulled"), compute=strict))
    yield c
    unregister(c.name)
    assert c.name not in names()


def test_builtins_and_errors():
    assert names()[:2] == ["success", "success_manipllm"]
    with pytest.raises(ValueError, match="registered already"):
        register(Criterion("success", "again", reads=()))
    with pytest.raises(UnknownCriterionError, match="allowed: success, success_manipllm"):
        get("nope")
    with pytest.raises(ValueError, match="built-in"):
        unregister("success")


def test_a_registered_criterion_reaches_every_table(registered, tmp_path):
    dirs = [RUNS / "robomamba@s0", RUNS / "random"]
    paths = write_tables(dirs, tmp_path, reference=True, ceiling_dir=RUNS / "ceiling")
    assert set(table_files()) | {AGGREGATION_FILE} == {p.name for p in paths.values() if p.suffix == ".csv"}
    agg = pd.read_csv(tmp_path / AGGREGATION_FILE)
    assert set(agg.criterion) == set(names())  # the new criterion's rows too
    assert "table_manipulation_success_strict.csv" in table_files()
    recs = load_run(RUNS / "robomamba@s0")["records"]
    by_cat: dict = {}
    for r in recs:
        by_cat.setdefault((r["group"], r["task"]), []).append(strict(r))
    seen = [sum(v) / len(v) for (g, _), v in by_cat.items() if g == "seen"]
    table = pd.read_csv(tmp_path / "table_manipulation_success_strict.csv")
    row = table[table.method == "robomamba@s0"].iloc[0]
    assert row["seen_AVG"] == pytest.approx(round(sum(seen) / len(seen), 2), abs=1e-9)
    assert "ceiling (search)" not in set(table.method)  # the committed search did not look for this criterion
    assert not any(m.endswith("(paper)") for m in table.method)  # published rows belong to the built-ins only
    assert row["seen_AVG"] < pd.read_csv(tmp_path / "table_manipulation.csv").set_index("method").loc[
        "robomamba@s0", "seen_AVG"]  # stricter: fewer successes
    summary = pd.read_csv(tmp_path / "summary.csv")
    part = summary[(summary.criterion == "success_strict") & (summary.method == "robomamba@s0")]
    mean = part[(part.split == "seen") & (part.category == "mean_over_categories")].rate.iloc[0]
    assert mean == pytest.approx(sum(seen) / len(seen), abs=1e-4)
    assert part["solvable"].isna().all()  # not searched: no solvable figures
    pairs = pd.read_csv(tmp_path / "comparisons.csv")
    assert ((pairs.criterion == "success_strict") & (pairs.method_a == "robomamba@s0")).sum() == 3  # seen, unseen, all
    failures = pd.read_csv(tmp_path / "failures.csv")
    strict_rows = failures[(failures.criterion == "success_strict") & (failures.category == "all")]
    assert len(strict_rows) == 2 and "criterion_not_met" in failures.columns
    assert (strict_rows["success"] + strict_rows.drop(columns=["method", "criterion", "category", "success",
                                                               "episodes", "unpulled_removed"]).sum(axis=1)
            == strict_rows["episodes"]).all()


def test_the_ceiling_search_looks_for_a_registered_criterion(env, registered):
    from evaluation.ceiling import search
    from evaluation.episodes import work_items

    item = work_items(0, "StorageFurniture", 1, split="test")[0]
    rec = search(env, item, budget=2)
    assert {f"solvable_{c.name}" for c in criteria()} <= set(rec)
    assert isinstance(rec["solvable_success_strict"], bool)
