"""The committed results are what their committed records say: every table of results/default,
recomputed here from the per-episode records committed beside it, is identical to the committed one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.tables import AGGREGATION_FILE, table_files, write_tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "default"
BUILTIN = ("success", "success_manipllm")  # the committed tables' criteria (a test may register more)


def test_committed_tables_recompute_from_committed_records(tmp_path):
    job = json.loads((RESULTS / "pipeline.json").read_text())
    runs = [RESULTS / "runs" / name for name in job["runs"]]
    assert all((r / "run.json").exists() and (r / "episodes.jsonl.gz").exists() for r in runs), runs
    paths = write_tables(runs, tmp_path, reference=True, ceiling_dir=RESULTS / "runs" / job["ceiling"],
                         criteria=BUILTIN)
    assert AGGREGATION_FILE in paths  # every committed record says where its pixel lay
    for name in [*table_files(BUILTIN), AGGREGATION_FILE]:
        assert paths[name].read_text() == (RESULTS / name).read_text(), name


def test_the_committed_tables_are_what_the_tables_command_writes(tmp_path):
    """results/default holds every table and plot evaluation.tables writes, and nothing else beside them
    (a table nobody regenerates would not recompute)."""
    committed = {p.name for p in RESULTS.iterdir() if p.is_file() and p.suffix in (".csv", ".png")}
    job = json.loads((RESULTS / "pipeline.json").read_text())
    paths = write_tables([RESULTS / "runs" / job["runs"][0]], tmp_path, criteria=BUILTIN)
    assert committed == {p.name for p in paths.values()}
    runs = {p.name for p in (RESULTS / "runs").iterdir()}
    assert runs == {*job["runs"], job["ceiling"]}, "records that no committed table reads"


def test_physics_changes_recompute_from_their_records():
    """results/physics/physics_changes.csv (bench/physics.py) follows from the committed records."""
    import gzip
    import importlib.util
    import json

    import pandas as pd

    spec = importlib.util.spec_from_file_location("bench_physics", ROOT / "bench" / "physics.py")
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


ABLATION_TABLES = sorted(p.stem[len("table_ablation_"):]
                         for p in (RESULTS.parent / "ablations").glob("table_ablation_*.csv"))


def test_the_committed_ablation_tables_are_known_tables():
    from evaluation.ablations import TABLES

    assert ABLATION_TABLES and set(ABLATION_TABLES) <= set(TABLES), ABLATION_TABLES


@pytest.mark.parametrize("name", ABLATION_TABLES)
def test_ablation_tables_recompute_from_their_records(name):
    """results/ablations: every success rate, interval and paired comparison of a table from the gzipped
    records committed beside it."""
    import pandas as pd

    from evaluation.ablations import DEFAULT
    from evaluation.results.paired import compare
    from evaluation.results.records import load_run
    from evaluation.results.stats import split_rate

    root = RESULTS.parent / "ablations"
    df = pd.read_csv(root / f"table_ablation_{name}.csv")
    runs = {k: load_run(root / "runs" / k) for k in df.key}
    for _, row in df.iterrows():
        recs = runs[row.key]["records"]
        assert len(recs) == 1500
        for group in ("seen", "unseen"):
            for crit, col in (("success", group), ("success_manipllm", f"{group}_manipllm")):
                rate, lo, hi = split_rate(recs, group, crit)
                assert (row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"]) == pytest.approx(
                    (round(rate, 4), round(lo, 4), round(hi, 4)), abs=1e-9)
        if row.key != DEFAULT:
            t = compare(runs[row.key], runs[DEFAULT], "success", per_category=False)
            for group in ("seen", "unseen"):
                r = t[t.split == group].iloc[0]
                assert row[f"{group}_diff_vs_default"] == pytest.approx(round(r["diff"], 4), abs=1e-9)
                assert row[f"{group}_mcnemar_p"] == pytest.approx(float(f"{r.mcnemar_p:.3g}"))


def test_the_readme_tables_are_the_committed_csvs():
    """README.md's results tables are generated from the committed CSVs (python -m evaluation.readme)."""
    from evaluation.readme import blocks, render

    text = (ROOT / "README.md").read_text()
    _, changed = render(text, blocks())
    assert changed == [], f"run python -m evaluation.readme: {changed} differ from the CSVs"
    # the check can fail: a number edited by hand, or a table recomputed, is caught
    row = "| oracle (privileged expert, one try) | "
    edited = text.replace(row + "0.98 |", row + "0.75 |")
    assert edited != text and render(edited, blocks())[1] == ["main"]
    with pytest.raises(ValueError, match="no markers for the generated blocks physics"):
        render(text.replace("<!-- begin generated: physics -->", ""), blocks())


@pytest.mark.parametrize("table", sorted(p.parent.relative_to(RESULTS.parent).as_posix()
                                         for p in (RESULTS.parent / "validation").rglob("validation.csv")))
def test_validation_tables_recompute_from_their_records(table):
    """results/validation and the runs below it (bench/validation.py, the seed-1 work list with pseudo-unseen
    categories): every candidate's rates and paired comparisons from the records committed beside it."""
    import importlib.util
    import sys

    import pandas as pd

    from evaluation.results.paired import comparisons_table
    from evaluation.results.records import load_run
    from evaluation.results.stats import split_rate

    spec = importlib.util.spec_from_file_location("validation", ROOT / "bench" / "validation.py")
    validation = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("validation", validation)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules["validation"])
    validation = sys.modules["validation"]
    root = RESULTS.parent / table
    df = pd.read_csv(root / "validation.csv")
    runs = {n: validation.regroup(load_run(root / "runs" / n)) for n in df.candidate}
    for _, row in df.iterrows():
        groups = {r["group"] for r in runs[row.candidate]["records"]}
        assert groups == {"seen", "unseen"}, (row.candidate, groups)  # regrouped: trained / pseudo-unseen
        for group, label in (("seen", "trained"), ("unseen", "pseudo_unseen")):
            rate, lo, hi = split_rate(runs[row.candidate]["records"], group, "success")
            assert (row[label], row[f"{label}_ci_low"], row[f"{label}_ci_high"]) == pytest.approx(
                (round(rate, 4), round(lo, 4), round(hi, 4)), abs=1e-9), (row.candidate, label)
            if row.get("agent") == "manipllm":  # the fraction of its answers that parsed, from the failure reasons
                assert row[f"{label}_parse_rate"] == validation.parse_rate(runs[row.candidate]["records"], group)
    recomputed = comparisons_table(runs, criteria=["success"])
    committed = pd.read_csv(root / "comparisons.csv")
    pd.testing.assert_frame_equal(recomputed.reset_index(drop=True), committed, check_dtype=False, atol=1e-9)


def test_the_overview_plot_reads_at_ten_methods():
    """success_by_category: one legend entry per method (training seeds drawn as one method), a colour per
    method that no other shares, each published row in the colour of the measured method it names, and seen
    and unseen panels (issue 31)."""
    import matplotlib.colors as mcolors

    from evaluation import plots
    from evaluation.results.records import load_runs
    from evaluation.tables import figure

    job = json.loads((RESULTS / "pipeline.json").read_text())
    runs = load_runs([RESULTS / "runs" / name for name in job["runs"]])  # 10 methods, 7 of them x 3 seeds
    fig = figure(runs, reference=True)
    labels = [t.get_text() for t in fig.legends[0].texts]
    methods = [lb for lb in labels if not lb.endswith("(paper)") and lb not in
               ("mean (Wilson 95% of the episodes)", "each training seed", "published")]
    learned = ["robomamba", "transformer", "where2act", "umpnet", "flowbot3d", "manipllm", "roboflamingo"]
    assert methods == [f"{m} (3 training seeds)" for m in learned] + ["random", "chance", "oracle"]
    papers = {"UMPNet (paper)": "umpnet", "FlowBot3D (paper)": "flowbot3d", "RoboFlamingo (paper)": "roboflamingo",
              "ManipLLM (paper)": "manipllm", "RoboMamba (paper)": "robomamba"}
    assert [lb for lb in labels if lb.endswith("(paper)")] == list(papers)
    handles = fig.legends[0].legend_handles
    color = {lb: mcolors.to_hex(h.get_color() if hasattr(h, "get_color") else h.lines[0].get_color())
             for h, lb in zip(handles, labels)}
    assert len({color[m] for m in methods}) == 10  # ten methods, ten colours
    for paper, m in papers.items():  # a published row in its measured method's colour
        assert color[paper] == color[f"{m} (3 training seeds)"], paper
    assert [ax.get_title() for ax in fig.axes] == ["seen categories", "unseen categories"]
    assert len(fig.axes[0].get_xticklabels()) == 20 and len(fig.axes[1].get_xticklabels()) == 10
    assert len(set(plots.colors([f"m{i}" for i in range(20)]).values())) == 20
    with pytest.raises(ValueError, match="at most 20"):
        plots.colors([f"m{i}" for i in range(21)])
    assert plots.families(["a@s0", "b", "a@s1", "c@small"]) == {"a": ["a@s0", "a@s1"], "b": ["b"],
                                                                "c@small": ["c@small"]}


def test_the_reference_aggregation_drops_pixels_off_the_target_and_pools_episodes(tmp_path):
    """aggregation.csv on two hand-made runs: ours is the mean over categories, the reference pools the
    episodes whose pixel was on the target part; without the field in every record there is no table."""
    from evaluation.tables import aggregation_table

    def rec(cat, group, ok, on):
        return {"key": f"{cat}/{len(recs):05d}", "task": cat, "category": cat, "group": group, "success": ok,
                "success_manipllm": ok, "pixel_on_target": on}

    recs = []
    # seen: Door 2/4 (one success with the pixel off the part), Safe 0/2 (pixels off the part); unseen: Faucet 1/2
    for args in [("Door", "seen", True, True), ("Door", "seen", True, False), ("Door", "seen", False, True),
                 ("Door", "seen", False, True), ("Safe", "seen", False, False), ("Safe", "seen", False, False),
                 ("Faucet", "unseen", True, True), ("Faucet", "unseen", False, False)]:
        recs.append(rec(*args))
    df = aggregation_table({"m": {"records": recs, "runs": []}}, ["success"]).set_index("split")
    near = lambda v: pytest.approx(v, abs=1e-4)  # noqa: E731  (the table rounds to 4 decimals)
    assert df.loc["seen", "mean_over_categories"] == near((2 / 4 + 0 / 2) / 2)
    assert df.loc["seen", "pooled_over_episodes"] == near(2 / 6)
    assert df.loc["seen", "reference"] == near(1 / 3)  # Door's 3 on-part episodes, 1 success
    assert (df.loc["seen", "kept_episodes"], df.loc["unseen", "kept_episodes"]) == (3, 1)
    assert df.loc["unseen", "reference"] == 1.0 and df.loc["all", "reference"] == near(2 / 4)
    del recs[3]["pixel_on_target"]
    assert aggregation_table({"m": {"records": recs, "runs": []}}, ["success"]) is None


def test_the_expert_comparison_recomputes_from_its_records(tmp_path):
    """results/expert: the motion-aware expert (the committed oracle) against the reference protocol's
    action on the main job's episodes, per category; and the acceptance of issue 28 on procedural
    objects: no loss overall, no category down by more than 0.1."""
    import pandas as pd
    from conftest import run_main

    committed = RESULTS.parent / "expert" / "oracle_vs_reference_expert.csv"
    p = run_main("evaluation.compare", RESULTS / "runs" / "oracle",
                 RESULTS.parent / "expert" / "runs" / "reference_expert", "--out", tmp_path / "c.csv")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "c.csv").read_text() == committed.read_text()
    assert committed.with_suffix(".png").is_file() and (tmp_path / "c.png").stat().st_size > 10_000  # its plot
    df = pd.read_csv(committed)
    overall = df[df.category == "mean over categories"]
    assert (overall["only_a"] > overall["only_b"]).all()
    assert (df[df.category != "mean over categories"]["diff"] >= -0.1).all()
