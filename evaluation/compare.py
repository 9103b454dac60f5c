"""Paired comparison of two evaluation runs on the same work list.

    python -m evaluation.compare out/eval/robomamba out/eval/random
    python -m evaluation.compare RUN_A RUN_B --criterion success_manipllm --out a_vs_b.csv

Every agent meets the very same episodes (evaluation.episodes), so two runs are compared episode by
episode instead of as two independent samples. For each category, each split (seen, unseen) and
all categories, it reports both success rates, their difference A - B, a paired bootstrap 95%
interval of that difference and the exact McNemar p-value:

- the difference of a split is the mean over its categories of the per-category differences (the
  paper's "mean over categories"); its bootstrap resamples categories, then episodes within each
  drawn category (a category's interval resamples its episodes);
- McNemar's test looks only at the discordant episodes (A succeeded and B failed: `only_a`, or the
  reverse: `only_b`): under "no difference" each is equally likely, so the p-value is the two-sided
  exact binomial test of only_a out of only_a + only_b at 1/2 (1 when there is none).

Runs whose work lists differ (other seed, categories, episodes, instances or image size) are refused.
`python -m evaluation.tables` writes the same for every pair of runs it is given (comparisons.csv).
"""
from __future__ import annotations

import json

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from infra.cli import check_at_least, check_choice, command_parser, die, done, option, parse_config

CRITERIA = ("success", "success_manipllm")
RESAMPLES = 2000
# run settings that change the episodes behind a work item (its key and seed being equal)
# settings both runs must share: they change the episodes, or what an action does in them
EPISODE_SETTINGS = ("split", "image_size", "partnet_dir", "physics", "env")


class MismatchError(ValueError):
    """The two runs do not share their work list."""


# ---------------------------------------------------------------------------------------- statistics
def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (1.0 without discordant pairs)."""
    from scipy.stats import binomtest

    n = int(only_a) + int(only_b)
    return 1.0 if n == 0 else float(binomtest(int(only_a), n, 0.5).pvalue)


def paired_bootstrap(diffs: list[np.ndarray], resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean over groups of each group's mean paired difference,
    resampling groups (categories) with replacement, then the items (episodes) of each drawn group.
    With one group only its items are resampled."""
    rng = np.random.default_rng(seed)
    diffs = [np.asarray(d, dtype=np.float64) for d in diffs if len(d)]
    k = len(diffs)
    if k == 0:
        return float("nan"), float("nan")
    picks = rng.integers(k, size=(resamples, k)) if k > 1 else np.zeros((resamples, 1), dtype=np.int64)
    means = np.empty((resamples, k))
    for j in range(k):
        for c, d in enumerate(diffs):
            rows = picks[:, j] == c
            if rows.any():
                means[rows, j] = d[rng.integers(len(d), size=(int(rows.sum()), len(d)))].mean(1)
    lo, hi = np.percentile(means.mean(1), [2.5, 97.5])
    return float(lo), float(hi)


# ---------------------------------------------------------------------------------------- pairing
def paired_outcomes(a: dict, b: dict, criterion: str = "success", settings=EPISODE_SETTINGS) -> pd.DataFrame:
    """One row per work item of two runs (tables.load_runs entries): split, category, a, b (0/1).
    MismatchError unless both hold the same items, with the same episode seeds and `settings`
    (bench/schedule.py compares the same agent under two physics settings: it passes fewer)."""
    from .tables import column_of

    for name in settings:
        va = {json.dumps(r.get("config", {}).get(name)) for r in a["runs"]}
        vb = {json.dumps(r.get("config", {}).get(name)) for r in b["runs"]}
        if va != vb:
            raise MismatchError(f"the runs were made with other {name} ({sorted(map(str, va))} vs "
                                f"{sorted(map(str, vb))}): their episodes differ")
    ra = {(r.get("seed"), r["key"]): r for r in a["records"]}
    rb = {(r.get("seed"), r["key"]): r for r in b["records"]}
    if ra.keys() != rb.keys():
        only_a, only_b = sorted(ra.keys() - rb.keys()), sorted(rb.keys() - ra.keys())
        example = (only_a or only_b)[0]
        raise MismatchError(f"the work lists differ: {len(only_a)} episodes only in the first run, {len(only_b)} "
                            f"only in the second (e.g. seed {example[0]}, {example[1]}); compare runs of the "
                            f"same --seed, --categories and --episodes, complete")
    bad = [k for k in ra if ra[k].get("episode_seed") != rb[k].get("episode_seed")
           or str(ra[k].get("instance_id")) != str(rb[k].get("instance_id"))]
    if bad:
        raise MismatchError(f"{len(bad)} work items have other episode seeds or instances (e.g. {bad[0][1]})")
    rows = [{"split": r.get("group", ""), "category": column_of(r), "a": int(bool(r.get(criterion))),
             "b": int(bool(rb[k].get(criterion)))} for k, r in ra.items()]
    return pd.DataFrame(rows, columns=["split", "category", "a", "b"])


def _row(df: pd.DataFrame, split: str, category: str, resamples: int, seed: int) -> dict:
    groups = [g for _, g in df.groupby("category", sort=False)]
    rate_a = float(np.mean([g["a"].mean() for g in groups]))
    rate_b = float(np.mean([g["b"].mean() for g in groups]))
    lo, hi = paired_bootstrap([(g["a"] - g["b"]).to_numpy() for g in groups], resamples, seed)
    only_a, only_b = int(((df.a == 1) & (df.b == 0)).sum()), int(((df.a == 0) & (df.b == 1)).sum())
    return {"split": split, "category": category, "categories": len(groups), "episodes": len(df),
            "rate_a": rate_a, "rate_b": rate_b, "diff": rate_a - rate_b, "ci_low": lo, "ci_high": hi,
            "both": int(((df.a == 1) & (df.b == 1)).sum()), "only_a": only_a, "only_b": only_b,
            "neither": int(((df.a == 0) & (df.b == 0)).sum()), "mcnemar_p": mcnemar_p(only_a, only_b)}


def compare(a: dict, b: dict, criterion: str = "success", resamples: int = RESAMPLES, seed: int = 0,
            per_category: bool = True, settings=EPISODE_SETTINGS) -> pd.DataFrame:
    """The comparison table of two runs (see module doc): split rows (seen, unseen, all; rates and
    difference are means over categories) and, with `per_category`, one row per category."""
    from .tables import paper_order

    df = paired_outcomes(a, b, criterion, settings)
    rows = []
    for split in ("seen", "unseen"):
        part = df[df.split == split]
        if len(part):
            rows.append(_row(part, split, "mean over categories", resamples, seed))
    if len(df):
        rows.append(_row(df, "all", "mean over categories", resamples, seed))
    if per_category:
        order = paper_order(set(df.category))
        for cat, part in sorted(df.groupby("category"), key=lambda kv: order.index(kv[0])):
            rows.append(_row(part, part.split.iloc[0], cat, resamples, seed))
    return pd.DataFrame(rows)


def comparisons_table(runs: dict, resamples: int = RESAMPLES) -> pd.DataFrame:
    """Every ordered pair (A listed before B) of `runs` (tables.load_runs) under both criteria, split
    rows only; pairs whose work lists differ are left out."""
    labels, out = list(runs), []
    for i, la in enumerate(labels):
        for lb in labels[i + 1:]:
            for criterion in CRITERIA:
                try:
                    t = compare(runs[la], runs[lb], criterion, resamples, per_category=False)
                except MismatchError:
                    continue
                out.append(t.assign(method_a=la, method_b=lb, criterion=criterion))
    if not out:
        return pd.DataFrame()
    df = pd.concat(out, ignore_index=True)
    p = df.pop("mcnemar_p").map(lambda v: float(f"{v:.3g}"))  # p-values: 3 significant digits, not 4 decimals
    df = df.round(4).assign(mcnemar_p=p)
    return df[["method_a", "method_b", "criterion", *[c for c in df.columns if c not in ("method_a", "method_b",
                                                                                          "criterion")]]]


# ---------------------------------------------------------------------------------------- CLI
@dataclass
class CompareConfig:
    criterion: str = option("success", "success criterion: success (|dq| > 0.1) or success_manipllm")
    resamples: int = option(RESAMPLES, "bootstrap resamples")
    seed: int = option(0, "seed of the bootstrap")
    out: Optional[str] = option(None, "also write the table to this CSV file")

    def __post_init__(self):
        check_choice(self, "criterion", CRITERIA)
        check_at_least(self, resamples=100)


def main(argv=None) -> int:
    p = command_parser("python -m evaluation.compare", __doc__)
    p.add_argument("run_a", help="evaluation directory A (run.json + episodes.jsonl)")
    p.add_argument("run_b", help="evaluation directory B, evaluated on the same work list")
    cfg, args = parse_config(CompareConfig, argv, parser=p)
    from .tables import load_runs

    try:
        runs = [next(iter(load_runs([d]).values())) for d in (args.run_a, args.run_b)]
        table = compare(*runs, cfg.criterion, cfg.resamples, cfg.seed)
    except MismatchError as e:
        die(f"{args.run_a} vs {args.run_b}: {e}")
    except (FileNotFoundError, ValueError) as e:
        die(str(e))
    labels = [run["runs"][0].get("label") or run["runs"][0].get("agent") for run in runs]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(f"A = {labels[0]} ({args.run_a}), B = {labels[1]} ({args.run_b}); {cfg.criterion}; diff = A - B, "
              f"paired bootstrap 95% interval, exact McNemar p")
        print(table.drop(columns=["categories"]).to_string(index=False))
    if cfg.out:
        from infra.files import atomic_write_text

        atomic_write_text(cfg.out, table.to_csv(index=False))
        return done(f"wrote {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
