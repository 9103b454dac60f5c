"""Two runs on the same work list, compared episode by episode.

Every agent meets the very same episodes (evaluation.episodes), so two runs are compared as pairs,
not as two independent samples. For each category, split (seen, unseen) and all categories: both
success rates, the difference A - B, a paired bootstrap 95% interval of it and the exact McNemar
p-value.

- A split's difference is the mean over its categories of the per-category differences (the papers'
  "mean over categories"); its bootstrap resamples categories, then episodes within each drawn
  category (a category's interval resamples its episodes).
- McNemar's test looks only at the discordant episodes (A succeeded and B failed: `only_a`, or the
  reverse: `only_b`): under "no difference" each is equally likely, so the p-value is the two-sided
  exact binomial test of only_a out of only_a + only_b at 1/2 (1 when there is none).

Runs whose work lists differ (other seed, categories, episodes, instances or image size) are refused
with a MismatchError.
"""
from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd

from .criteria import criteria as registered
from .criteria import get
from .stats import RESAMPLES, bootstrap_mean, column_of, paper_order

# run settings both runs must share: they change the episodes behind a work item (its key and seed
# being equal), or what an action does in them
EPISODE_SETTINGS = ("split", "image_size", "partnet_dir", "physics", "env")
paired_bootstrap = bootstrap_mean  # the interval of a mean of per-episode paired differences


class MismatchError(ValueError):
    """The two runs do not share their work list."""


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (1.0 without discordant pairs)."""
    return _mcnemar_p(int(only_a), int(only_b))


@functools.lru_cache(maxsize=65536)  # counts recur across the pairs of a table; scipy costs ~1 ms a call
def _mcnemar_p(only_a: int, only_b: int) -> float:
    from scipy.stats import binomtest

    n = only_a + only_b
    return 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)


def paired_outcomes(a: dict, b: dict, criterion="success", settings=EPISODE_SETTINGS) -> pd.DataFrame:
    """One row per work item of two runs (records.load_runs entries): split, category, a, b (0/1).
    MismatchError unless both hold the same items, with the same episode seeds and `settings`
    (bench/schedule.py compares the same agent under two physics settings: it passes fewer)."""
    crit = get(criterion)
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
    rows = [(r.get("group", ""), column_of(r), int(crit.passed(r)), int(crit.passed(rb[k]))) for k, r in ra.items()]
    return pd.DataFrame(rows, columns=["split", "category", "a", "b"])


def _row(df: pd.DataFrame, split: str, category: str, resamples: int, seed: int) -> dict:
    codes, cats = pd.factorize(df["category"])  # categories in order of first appearance, as groupby(sort=False)
    a, b = df["a"].to_numpy(), df["b"].to_numpy()
    members = [codes == i for i in range(len(cats))]
    rate_a = float(np.mean([a[m].mean() for m in members]))
    rate_b = float(np.mean([b[m].mean() for m in members]))
    lo, hi = bootstrap_mean([(a - b)[m] for m in members], resamples, seed)
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    return {"split": split, "category": category, "categories": len(cats), "episodes": len(df),
            "rate_a": rate_a, "rate_b": rate_b, "diff": rate_a - rate_b, "ci_low": lo, "ci_high": hi,
            "both": int(((a == 1) & (b == 1)).sum()), "only_a": only_a, "only_b": only_b,
            "neither": int(((a == 0) & (b == 0)).sum()), "mcnemar_p": mcnemar_p(only_a, only_b)}


def compare(a: dict, b: dict, criterion="success", resamples: int = RESAMPLES, seed: int = 0,
            per_category: bool = True, settings=EPISODE_SETTINGS) -> pd.DataFrame:
    """The comparison table of two runs (module doc): split rows (seen, unseen, all; rates and
    difference are means over categories) and, with `per_category`, one row per category."""
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


def comparisons_table(runs: dict, resamples: int = RESAMPLES, criteria=None) -> pd.DataFrame:
    """Every ordered pair (A listed before B) of `runs` under every criterion (default: all registered),
    split rows only; pairs whose work lists differ are left out."""
    labels, out = list(runs), []
    chosen = registered() if criteria is None else [get(c) for c in criteria]
    for i, la in enumerate(labels):
        for lb in labels[i + 1:]:
            for crit in chosen:
                try:
                    t = compare(runs[la], runs[lb], crit, resamples, per_category=False)
                except MismatchError:
                    continue
                out.append(t.assign(method_a=la, method_b=lb, criterion=crit.name))
    if not out:
        return pd.DataFrame()
    df = pd.concat(out, ignore_index=True)
    p = df.pop("mcnemar_p").map(lambda v: float(f"{v:.3g}"))  # p-values: 3 significant digits, not 4 decimals
    df = df.round(4).assign(mcnemar_p=p)
    first = ["method_a", "method_b", "criterion"]
    return df[[*first, *[c for c in df.columns if c not in first]]]
