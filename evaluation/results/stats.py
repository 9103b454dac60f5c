"""Aggregates of evaluation records: per-category counts and rates, the mean over categories (the
papers' average), Wilson intervals of a proportion, and the bootstrap interval of a split's mean.

Every rate is per criterion (`evaluation.results.criteria`); a record's table column is its task (the
paper category, or an alias such as 'drawer').
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from .criteria import get

SPLITS = ("seen", "unseen")
COUNT_COLUMNS = ["split", "category", "episodes", "successes", "rate", "wilson_low", "wilson_high"]
RESAMPLES = 2000


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial proportion (scipy); NaNs for n = 0."""
    return _wilson(int(successes), int(n))


@functools.lru_cache(maxsize=65536)  # the same few (successes, n) recur across tables: scipy costs ~1 ms a call
def _wilson(successes: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    if n <= 0:
        return math.nan, math.nan
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def column_of(r: dict) -> str:
    """Table column of a record: its task (the paper category, or an alias like 'drawer')."""
    return r.get("task") or r.get("category")


def paper_order(columns) -> list[str]:
    """`columns` in the papers' order of categories (20 seen, then 10 unseen), others after them."""
    from sim_envs.categories import ALL

    return [c for c in ALL if c in columns] + sorted(c for c in columns if c not in ALL)


def category_counts(records: list[dict], criterion="success") -> pd.DataFrame:
    """Per (split, category): episodes, successes, rate and Wilson interval, seen first, in paper order."""
    crit = get(criterion)
    rows: dict[tuple, tuple] = {}
    for r in records:
        k = (r.get("group", ""), column_of(r))
        n, s = rows.get(k, (0, 0))
        rows[k] = (n + 1, s + crit.passed(r))
    order = paper_order({c for _, c in rows})
    out = []
    for g, c in sorted(rows, key=lambda k: (k[0] != "seen", order.index(k[1]))):
        n, s = rows[(g, c)]
        lo, hi = wilson(s, n)
        out.append({"split": g, "category": c, "episodes": n, "successes": s, "rate": s / n,
                    "wilson_low": lo, "wilson_high": hi})
    return pd.DataFrame(out, columns=COUNT_COLUMNS)


def category_rates(records: list[dict], criterion="success") -> dict[tuple[str, str], float]:
    """{(split, category): success rate}."""
    df = category_counts(records, criterion)
    return {(r.split, r.category): r.rate for r in df.itertuples()}


def split_means(records: list[dict], criterion="success") -> dict[str, float]:
    """{split: mean over its categories of the success rate} for the splits the records hold
    (seen, unseen, and 'all': the mean over every category)."""
    df = category_counts(records, criterion)
    out = {s: float(df[df.split == s].rate.mean()) for s in SPLITS if (df.split == s).any()}
    if len(df):
        out["all"] = float(df.rate.mean())
    return out


def bootstrap_mean(groups: list[np.ndarray], resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean over groups of each group's mean, resampling groups
    (categories) with replacement, then the items (episodes) of each drawn group; with one group only
    its items are resampled. For paired differences the items are the per-episode differences."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(d, dtype=np.float64) for d in groups if len(d)]
    k = len(groups)
    if k == 0:
        return float("nan"), float("nan")
    picks = rng.integers(k, size=(resamples, k)) if k > 1 else np.zeros((resamples, 1), dtype=np.int64)
    means = np.empty((resamples, k))
    for j in range(k):
        # the resamples that drew group c in slot j, in increasing order (what a boolean mask selects), found
        # with one stable sort instead of k comparisons; the draws are the same calls in the same order
        order = np.argsort(picks[:, j], kind="stable")
        ends = np.cumsum(np.bincount(picks[:, j], minlength=k))
        for c, d in enumerate(groups):
            rows = order[ends[c - 1] if c else 0: ends[c]]
            if len(rows):
                means[rows, j] = np.add.reduce(d[rng.integers(len(d), size=(len(rows), len(d)))], axis=1) / len(d)
    lo, hi = np.percentile(means.mean(1), [2.5, 97.5])
    return float(lo), float(hi)


def split_rate(records: list[dict], split: str, criterion="success", seed: int = 0) -> tuple[float, float, float]:
    """(mean over the split's categories, its 95% bootstrap interval) of a run's success."""
    crit = get(criterion)
    cats: dict[str, list] = {}
    for r in records:
        if r.get("group") == split:
            cats.setdefault(column_of(r), []).append(float(crit.passed(r)))
    if not cats:
        return float("nan"), float("nan"), float("nan")
    lo, hi = bootstrap_mean([np.array(v) for v in cats.values()], seed=seed)
    return float(np.mean([np.mean(v) for v in cats.values()])), lo, hi
