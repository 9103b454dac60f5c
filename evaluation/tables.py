"""Results tables: evaluation runs (episodes.jsonl) -> the paper's tables, CSV, and a plot.

    python -m evaluation.tables --runs out/eval/robomamba out/eval/random --out out/tables --reference

Writes to --out:
- `table_manipulation.csv`: the layout of RoboMamba's Table 2 (and ManipLLM's Table 1): a row per
  method, `method`, the 20 seen categories, `seen_AVG`, the 10 unseen categories, `unseen_AVG`, in
  the reference CSV's column order; success rates as fractions rounded to 2 decimals; an average is
  the mean over categories (as in the papers). Criterion `success` (|dq| > 0.1, RoboMamba);
  `table_manipulation_manipllm.csv` is the same with ManipLLM's criterion. With --reference the
  published rows follow, labelled `<method> (paper)` (RoboMamba Table 2) and
  `<method> (ManipLLM paper)` (ManipLLM Table 1);
- `summary.csv`: per method, criterion (`success`, `success_manipllm`) and category: episodes,
  successes, rate and its Wilson 95% interval; per split (seen, unseen, all) a row
  `mean_over_categories` (the papers' average; no interval) and a row `mean_over_episodes` (pooled,
  with its Wilson interval);
- `speed.csv`: per method: control frequency (actions per second of the agent's act() calls, from
  the timings in episodes.jsonl), mean batch size, latency per act() call, episodes per minute of
  the whole evaluation (simulation included), total and trainable parameters (from run.json), the
  training wall time its checkpoint records (`train_s`); with --reference the published speeds and
  fine-tuned parameter counts;
- `failures.csv`: per method, category and criterion, how its episodes ended: a column per reason
  (`success`, then the first word of `failure_reason`: no_contact, approach_collision,
  unpulled_motion, touched_other_link, blocked, no_motion, small_motion, wrong_direction, ... ; see
  docs/protocol.md section 4), and `unpulled_removed`, the successes the unpulled-motion filter took
  away; `failures.png` shows the split of every method's episodes;
- `aggregation.csv` (when every record says whether its pixel lay on the target part, `pixel_on_target`):
  per method, criterion and split, the rate as our tables give it (mean over categories), pooled over
  episodes, and as the reference code aggregates (episodes whose pixel is off the target part dropped,
  the rest pooled by sample count), with the episodes kept; Table 2's 20 seen and 10 unseen categories;
- `success_by_category.png`: per-category success of every method (one mark per method, the mean over
  its training seeds with each seed beside it), Wilson 95% intervals, seen and unseen panels (and,
  with --reference, the published rows of RoboMamba Table 2 as ticks, each method its own colour).

Every table covers every success criterion of the registry (evaluation.results.criteria): a criterion
registered besides the two built-ins gets its own `table_manipulation_<name>.csv` and its rows in
summary, comparisons, seeds and failures. Several directories with the same method label (shards of
one evaluation) are merged; an episode (seed, task, episode number) present twice counts once. The
records are read, and every aggregate computed, through evaluation.results.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infra.cli import command_parser, die, done, option, parse_config
from infra.files import atomic_write_text, save_figure

from .results.criteria import Criterion, get
from .results.criteria import criteria as registered
from .results.paired import comparisons_table
from .results.records import RecordsError, load_ceiling, load_runs
from .results.stats import category_counts, category_rates, column_of, paper_order, wilson

REFERENCE_DIR = Path(__file__).with_name("reference")
TABLE2 = REFERENCE_DIR / "robomamba_table2_manipulation.csv"
TABLE1_MANIPLLM = REFERENCE_DIR / "manipllm_table1_manipulation.csv"
SPEED = REFERENCE_DIR / "robomamba_speed_and_params.csv"
CEILING_LABEL = "ceiling (search)"


def reference_columns() -> list[str]:
    """The paper table's header: method, 20 seen, seen_AVG, 10 unseen, unseen_AVG."""
    return list(pd.read_csv(TABLE2, nrows=0).columns)


# ---------------------------------------------------------------------------------------- tables
def manipulation_table(runs: dict, criterion="success", reference: bool = False) -> pd.DataFrame:
    """The paper layout (see module doc); categories a method was not evaluated on are empty."""
    cols = reference_columns()
    seen, unseen = cols[1:cols.index("seen_AVG")], cols[cols.index("seen_AVG") + 1:cols.index("unseen_AVG")]
    rows = []
    for label, run in runs.items():
        rates = {c: r for (_, c), r in category_rates(run["records"], criterion).items()}
        row = {"method": label, **{c: rates.get(c, np.nan) for c in seen + unseen}}
        for name, group in (("seen_AVG", seen), ("unseen_AVG", unseen)):
            vals = [rates[c] for c in group if c in rates]
            row[name] = float(np.mean(vals)) if vals else np.nan
        rows.append(row)
    df = pd.DataFrame(rows, columns=cols)
    df = pd.concat([df, seed_spread_rows(df)], ignore_index=True) if seed_families(df["method"]) else df
    num = cols[1:]
    df[num] = df[num].astype(float).round(2)
    if reference:
        df = pd.concat([df, published_rows()], ignore_index=True)
    return df


def seed_families(labels) -> dict[str, list[str]]:
    """{agent: its labels} for the methods evaluated with several training seeds ('robomamba@s0', ...)."""
    fam: dict[str, list[str]] = {}
    for label in labels:
        if "@s" in label:
            fam.setdefault(label.split("@s")[0], []).append(label)
    return {k: v for k, v in fam.items() if len(v) > 1}


def seed_spread_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per agent trained with several seeds: the mean over seeds of each column of the paper table."""
    rows = []
    for agent, labels in seed_families(table["method"]).items():
        part = table[table["method"].isin(labels)]
        rows.append({"method": f"{agent} (mean of {len(labels)} training seeds)",
                     **part.drop(columns="method").astype(float).mean().to_dict()})
    return pd.DataFrame(rows, columns=table.columns)


def seeds_table(runs: dict, criteria=None) -> pd.DataFrame:
    """Per agent trained with several seeds, criterion and split: the seeds' split means (mean over
    categories), their mean, standard deviation, min and max."""
    rows = []
    for agent, labels in seed_families(runs).items():
        for crit in _chosen(criteria):
            per = {lab: category_counts(runs[lab]["records"], crit) for lab in labels}
            for split in ("seen", "unseen", "all"):
                vals = [float((c if split == "all" else c[c.split == split]).rate.mean()) for c in per.values()]
                rows.append({"agent": agent, "criterion": crit.name, "split": split, "seeds": len(vals),
                             "mean": np.mean(vals), "std": np.std(vals, ddof=1), "min": min(vals), "max": max(vals),
                             "per_seed": " ".join(f"{v:.3f}" for v in vals)})
    return pd.DataFrame(rows).round(4)


def published_rows() -> pd.DataFrame:
    """RoboMamba Table 2 rows as '<method> (paper)', ManipLLM Table 1 rows as '<method> (ManipLLM paper)'."""
    t2, t1 = pd.read_csv(TABLE2), pd.read_csv(TABLE1_MANIPLLM)
    t2["method"] = t2["method"] + " (paper)"
    t1["method"] = t1["method"] + " (ManipLLM paper)"
    return pd.concat([t2, t1[t2.columns]], ignore_index=True)


def _chosen(criteria) -> list[Criterion]:
    """The criteria named in `criteria` (None: every registered one)."""
    return registered() if criteria is None else [get(c) for c in criteria]


def searched(ceiling: dict, criterion) -> bool:
    """Whether the ceiling search looked for an action meeting `criterion` on every episode."""
    name = get(criterion).name
    return bool(ceiling) and all(f"solvable_{name}" in r for r in ceiling.values())


def with_solvable(records: list[dict], ceiling: dict, criterion) -> list[dict]:
    """The records with `solvable` from the ceiling search (evaluation.ceiling) of their work list;
    ValueError if the search did not cover this run's episodes."""
    name = get(criterion).name
    out = []
    for r in records:
        c = ceiling.get(r["key"])
        if c is None or c.get("episode_seed") != r.get("episode_seed"):
            raise ValueError(f"the ceiling search does not cover episode {r['key']} (seed {r.get('seed')}) of this "
                             f"run: search the same work list (--seed, --categories, --episodes)")
        out.append({**r, "solvable": bool(c[f"solvable_{name}"])})
    return out


def summary_table(runs: dict, ceiling: dict | None = None, criteria=None) -> pd.DataFrame:
    """Long table (see module doc); with a ceiling search, also the solvable episodes and the
    success rate on them (for the criteria it searched)."""
    parts = []
    for label, run in runs.items():
        for crit in _chosen(criteria):
            solvable = bool(ceiling) and searched(ceiling, crit)
            recs = with_solvable(run["records"], ceiling, crit) if solvable else run["records"]
            cat = category_counts(recs, crit)
            extra = []
            for split in ("seen", "unseen", "all"):
                sub = cat if split == "all" else cat[cat.split == split]
                if sub.empty:
                    continue
                n, s = int(sub.episodes.sum()), int(sub.successes.sum())
                lo, hi = wilson(s, n)
                extra.append({"split": split, "category": "mean_over_categories", "episodes": n, "successes": s,
                              "rate": float(sub.rate.mean()), "wilson_low": np.nan, "wilson_high": np.nan})
                extra.append({"split": split, "category": "mean_over_episodes", "episodes": n, "successes": s,
                              "rate": s / n, "wilson_low": lo, "wilson_high": hi})
            df = pd.concat([cat, pd.DataFrame(extra)], ignore_index=True)
            if solvable:
                df = df.merge(_solvable_counts(recs, crit), on=["split", "category"], how="left")
            df.insert(0, "criterion", crit.name)
            df.insert(0, "method", label)
            parts.append(df)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for c in ("rate", "wilson_low", "wilson_high", "solvable", "success_on_solvable"):
        if c in out:
            out[c] = out[c].astype(float).round(4)
    return out


def aggregation_table(runs: dict, criteria=None) -> pd.DataFrame | None:
    """Each run's rates aggregated three ways, per split (Table 2's 20 seen and 10 unseen categories, and
    all): ours (the mean over categories, as the paper tables), pooled over episodes, and the reference
    code's (an episode whose executed pixel is off the target part has no result and leaves the
    denominator; the rest pooled by sample count); with the episodes kept. None unless every record of
    every run says where its pixel lay (`pixel_on_target`: records from before the field lack it;
    bench/backfill_pixel_on_target.py adds it)."""
    if not runs or any("pixel_on_target" not in r for run in runs.values() for r in run["records"]):
        return None
    rows = []
    for label, run in runs.items():
        for crit in _chosen(criteria):
            for split in ("seen", "unseen", "all"):
                recs = [r for r in run["records"] if split == "all" or r.get("group") == split]
                if not recs:
                    continue
                ok = [bool(crit.passed(r)) for r in recs]
                kept = [k for k, r in zip(ok, recs) if r["pixel_on_target"]]
                rows.append({"method": label, "criterion": crit.name, "split": split,
                             "mean_over_categories": float(category_counts(recs, crit).rate.mean()),
                             "pooled_over_episodes": sum(ok) / len(ok),
                             "reference": sum(kept) / len(kept) if kept else np.nan,
                             "episodes": len(recs), "kept_episodes": len(kept), "kept_fraction": len(kept) / len(recs)})
    return pd.DataFrame(rows).round(4)


def _solvable_counts(records: list[dict], criterion) -> pd.DataFrame:
    """Per (split, category) and the split rows: solvable fraction, solvable episodes, success on them."""
    crit = get(criterion)
    df = pd.DataFrame({"split": [r.get("group", "") for r in records], "category": [column_of(r) for r in records],
                       "solvable": [r["solvable"] for r in records],
                       "ok": [crit.passed(r) for r in records]})
    rows = []
    for (split, cat), g in df.groupby(["split", "category"]):
        rows.append({"split": split, "category": cat, "solvable": g.solvable.mean(),
                     "solvable_episodes": int(g.solvable.sum()),
                     "success_on_solvable": g.ok[g.solvable].mean() if g.solvable.any() else np.nan})
    per = pd.DataFrame(rows)
    for split in ("seen", "unseen", "all"):
        sub = per if split == "all" else per[per.split == split]
        if sub.empty:
            continue
        g = df if split == "all" else df[df.split == split]
        for name, agg in (("mean_over_categories", "mean"), ("mean_over_episodes", None)):
            rows.append({"split": split, "category": name,
                         "solvable": sub.solvable.mean() if agg else g.solvable.mean(),
                         "solvable_episodes": int(g.solvable.sum()),
                         "success_on_solvable": (sub.success_on_solvable.mean() if agg
                                                 else (g.ok[g.solvable].mean() if g.solvable.any() else np.nan))})
    return pd.DataFrame(rows)


def ceiling_rows(ceiling: dict, criteria=None) -> list[dict]:
    """The ceiling search as records of a method: under each criterion it searched, success = solvable."""
    names = [c.name for c in _chosen(criteria) if searched(ceiling, c)]
    return [{**r, "method": CEILING_LABEL, **{n: r[f"solvable_{n}"] for n in names}} for r in ceiling.values()]


def speed_table(runs: dict, reference: bool = False) -> pd.DataFrame:
    """Per method: control_hz (actions / act() seconds), batching, throughput, parameters."""
    rows = []
    for label, run in runs.items():
        timed = [r for r in run["records"] if r.get("agent_seconds") is not None and r.get("batch_size")]
        act_s = sum(r["agent_seconds"] for r in timed)
        calls = sum(1.0 / r["batch_size"] for r in timed)
        parts = [x for info in run["runs"] for x in info.get("runs", []) if x.get("episodes")]
        secs, eps = sum(x["seconds"] or 0 for x in parts), sum(x["episodes"] for x in parts)
        params = run["runs"][0].get("parameter_counts", {}) or {}
        total, trainable = params.get("total", 0), params.get("trainable", 0)
        rows.append({"method": label, "control_hz": len(timed) / act_s if act_s > 0 else np.nan,
                     "device": (parts[-1].get("device") if parts else None) or run["runs"][0]["config"].get("device"),
                     "mean_batch_size": len(timed) / calls if calls else np.nan,
                     "act_latency_ms": 1000 * act_s / calls if calls else np.nan,
                     "episodes_per_minute": 60 * eps / secs if secs > 0 else np.nan,
                     "total_params": total, "trainable_params": trainable,
                     "trainable_fraction": trainable / total if total else np.nan, "episodes": len(run["records"]),
                     "train_s": training_seconds(run["runs"][0].get("checkpoint_meta"))})
    df = pd.DataFrame(rows, columns=["method", "control_hz", "device", "mean_batch_size", "act_latency_ms",
                                     "episodes_per_minute", "total_params", "trainable_params",
                                     "trainable_fraction", "episodes", "train_s"])
    for c, nd in (("control_hz", 2), ("mean_batch_size", 2), ("act_latency_ms", 2), ("episodes_per_minute", 1),
                  ("trainable_fraction", 4), ("train_s", 1)):
        df[c] = df[c].astype(float).round(nd)
    if reference:
        ref = pd.read_csv(SPEED)
        ref = pd.DataFrame({"method": ref["method"] + " (paper)", "control_hz": ref["control_hz"],
                            "device": ref["gpu"], "trainable_params": ref["finetuned_params"].map(_count),
                            "trainable_fraction": ref["finetuned_fraction"]})
        df = pd.concat([df, ref], ignore_index=True)
    for c in ("total_params", "trainable_params", "episodes"):
        df[c] = df[c].round().astype("Int64")
    return df


def training_seconds(meta: dict | None) -> float:
    """The training wall time a checkpoint records (its stages' sum); NaN for an agent without training."""
    training = (meta or {}).get("training") or {}
    if "wall_s" in training:
        return float(training["wall_s"])
    stages = [v.get("wall_s") for v in (training.get("stages") or {}).values() if isinstance(v, dict)]
    return float(sum(stages)) if stages and all(v is not None for v in stages) else np.nan


def _count(text) -> float:
    """'3.7M' -> 3.7e6, '7.0B' -> 7e9."""
    if not isinstance(text, str) or not text:
        return np.nan
    mult = {"K": 1e3, "M": 1e6, "B": 1e9}.get(text[-1].upper(), 1.0)
    return float(text.rstrip("KMBkmb")) * mult


# ---------------------------------------------------------------------------------------- plot
def plot(runs: dict, path, reference: bool = False, criterion: str = "success") -> Path:
    """success_by_category.png: figure(runs, reference, criterion), saved at `path`."""
    import matplotlib.pyplot as plt

    fig = figure(runs, reference, criterion)
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)


def figure(runs: dict, reference: bool = False, criterion: str = "success"):
    """Per-category success of every method, seen and unseen categories in two panels (evaluation.plots'
    style): a method trained with several seeds is one mark, the mean over its seeds, with each seed's
    rate beside it and the Wilson 95% interval of all its episodes; with `reference`, the published
    rows of RoboMamba's Table 2 as ticks, in the colour of the measured method they name (RoboMamba)
    or in a slot of their own (the methods not measured here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim_envs.categories import SEEN

    from . import plots

    fams = plots.families(runs)
    per_seed = {m: [category_counts(runs[lb]["records"], criterion).set_index("category") for lb in labels]
                for m, labels in fams.items()}
    cats = paper_order({c for ts in per_seed.values() for t in ts for c in t.index})
    published = pd.read_csv(TABLE2).set_index("method") if reference else pd.DataFrame()
    measured = {plots.key(m): m for m in fams}
    only_published = [r for r in published.index if plots.key(r) not in measured]
    slots = [*fams, *only_published]
    color = plots.colors(slots)
    off = plots.offsets(len(slots))
    half = 0.4 / len(slots)
    panels = [(g, [c for c in cats if (c in SEEN) == (g == "seen")]) for g in ("seen", "unseen")]
    panels = [(g, cs) for g, cs in panels if cs]
    fig, axes = plt.subplots(1, len(panels), sharey=True, squeeze=False,
                             figsize=(max(7.0, 0.5 * len(cats) + 2.5), 5.6),
                             gridspec_kw={"width_ratios": [len(cs) for _, cs in panels], "wspace": 0.04})
    for ax, (group, cs) in zip(axes[0], panels):
        x = np.arange(len(cs), dtype=float)
        for j, m in enumerate(fams):
            ts = [t.reindex(cs) for t in per_seed[m]]
            n = sum(t.episodes.fillna(0) for t in ts)
            k = sum(t.successes.fillna(0) for t in ts)
            lo, hi = zip(*(wilson(int(a), int(b)) if b else (np.nan, np.nan) for a, b in zip(k, n)))
            rates = np.vstack([t.rate.to_numpy(float) for t in ts])
            label = f"{m} ({len(ts)} training seeds)" if len(ts) > 1 else m
            plots.draw_method(ax, x + off[j], np.nanmean(rates, axis=0), lo, hi, color[m], rates,
                              label=label if group == panels[0][0] else None)
        for r in published.index:
            slot = measured.get(plots.key(r), r)
            vals = [published.loc[r].get(c, np.nan) for c in cs]
            plots.draw_published(ax, x + off[slots.index(slot)], vals, color[slot], half,
                                 label=(f"{r} (paper)" if group == panels[0][0] else None))
        for xb in x[:-1] + 0.5:  # a faint line between categories
            ax.axvline(xb, color="grey", lw=0.3, alpha=0.4, zorder=0)
        ax.set_xticks(x, cs, rotation=60, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(cs) - 0.4)
        ax.set_title(f"{group} categories", fontsize=9)
        ax.grid(axis="y", lw=0.4, alpha=0.5)
    axes[0][0].set_ylim(0, 1.02)
    axes[0][0].set_ylabel(f"{criterion} rate")
    by_label = dict(zip(*reversed(axes[0][0].get_legend_handles_labels())))
    labels = [lb for lb in by_label if not lb.endswith("(paper)")] + [lb for lb in by_label if lb.endswith("(paper)")]
    keys = plots.legend_keys(any(len(v) > 1 for v in fams.values()), not published.empty)
    n = len(labels) + len(keys)
    fig.legend([by_label[lb] for lb in labels] + keys, labels + [h.get_label() for h in keys], fontsize=8,
               frameon=False, ncol=min(6, n), loc="upper center", bbox_to_anchor=(0.5, 1.0))
    fig.subplots_adjust(top=1 - 0.045 * (1 + (n - 1) // 6) - 0.04, bottom=0.2, left=0.06, right=0.99)
    return fig


# ---------------------------------------------------------------------------------------- failures
def failures_table(runs: dict, criteria=None) -> pd.DataFrame:
    """Long-to-wide counts of how episodes ended (module doc), a row per method, criterion and
    category plus a row `all` per method and criterion."""
    rows = []
    for label, run in runs.items():
        for crit in _chosen(criteria):
            for r in run["records"]:
                passed = crit.passed(r)
                rows.append({"method": label, "criterion": crit.name, "category": r.get("category") or r.get("task"),
                             "outcome": crit.outcome(r),
                             "unpulled_removed": int(bool(r.get("unpulled_motion")) and not passed)})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    both = pd.concat([df, df.assign(category="all")], ignore_index=True)
    wide = pd.crosstab([both.method, both.criterion, both.category], both.outcome)
    order = ["success"] + sorted(c for c in wide.columns if c != "success")
    wide = wide.reindex(columns=[c for c in order if c in wide.columns], fill_value=0)
    wide["episodes"] = wide.sum(axis=1)
    wide["unpulled_removed"] = both.groupby(["method", "criterion", "category"])["unpulled_removed"].sum()
    return wide.reset_index()


def plot_failures(table: pd.DataFrame, path) -> Path:
    """Stacked bars: for each method, the fraction of its episodes per outcome (RoboMamba criterion)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import FAILURE_COLOURS as palette

    sub = table[(table.criterion == "success") & (table.category == "all")].set_index("method")
    cols = [c for c in sub.columns if c not in ("criterion", "category", "episodes", "unpulled_removed")]
    frac = sub[cols].div(sub["episodes"], axis=0)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(frac) + 2.4))
    left = np.zeros(len(frac))
    for k, c in enumerate(cols):
        colour = "#2ca02c" if c == "success" else palette[(k - 1) % len(palette)]
        ax.barh(frac.index, frac[c], left=left, label=c, color=colour)
        left += frac[c].to_numpy()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of episodes")
    ax.set_title("How episodes ended (RoboMamba criterion; failures by reason)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    return Path(path)


AGGREGATION_FILE = "aggregation.csv"  # written when every record has pixel_on_target (aggregation_table)


def table_files(criteria=None) -> list[str]:
    """The CSV files write_tables() writes, for the criteria `criteria` (None: every registered one)."""
    return [*(c.table_file for c in _chosen(criteria)), "summary.csv", "speed.csv", "comparisons.csv", "seeds.csv",
            "failures.csv"]


def write_tables(run_dirs, out, reference: bool = False, ceiling_dir=None, criteria=None) -> dict[str, Path]:
    """Write every table and the plots to `out` (atomically, each); returns {name: path}.
    One paper-layout table per criterion (`criteria`: names; None = every registered one);
    `comparisons.csv` compares every pair of runs on their shared episodes (evaluation.compare);
    with a ceiling search (evaluation.ceiling), the tables gain its row (the solvable fraction) and
    summary.csv the success on solvable episodes."""
    runs = load_runs(run_dirs)
    ceiling = load_ceiling(ceiling_dir) if ceiling_dir else None
    chosen = _chosen(criteria)
    out = Path(out)
    paths, failures = {}, failures_table(runs, chosen)
    tables = []
    for crit in chosen:
        with_ceiling = runs
        if ceiling and searched(ceiling, crit):
            with_ceiling = {**runs, CEILING_LABEL: {"records": ceiling_rows(ceiling, [crit]), "runs": []}}
        tables.append((crit.table_file, manipulation_table(with_ceiling, crit, reference and crit.published)))
    tables += [("summary.csv", summary_table(runs, ceiling, chosen)), ("speed.csv", speed_table(runs, reference)),
               ("comparisons.csv", comparisons_table(runs, criteria=chosen)), ("seeds.csv", seeds_table(runs, chosen)),
               ("failures.csv", failures)]
    aggregation = aggregation_table(runs, chosen)
    if aggregation is not None:  # records that say where each pixel lay (module doc)
        tables.append((AGGREGATION_FILE, aggregation))
    for name, df in tables:
        decimals = "%.2f" if name.startswith("table_") else None  # the paper tables: 2 decimals, as published
        atomic_write_text(out / name, df.to_csv(index=False, float_format=decimals))
        paths[name] = out / name
    paths["plot"] = plot(runs, out / "success_by_category.png", reference)
    paths["failures_plot"] = plot_failures(failures, out / "failures.png")
    return paths


@dataclass
class TablesConfig:
    out: str = option("out/tables", "output directory")
    reference: bool = option(False, "add the published rows of RoboMamba Table 2 and ManipLLM Table 1")
    ceiling: str | None = option(None, "a ceiling search of the same work list (python -m evaluation.ceiling): "
                                          "its solvable fraction as a row, and success on solvable episodes")


def main(argv=None) -> int:
    p = command_parser("python -m evaluation.tables", __doc__)
    p.add_argument("--runs", nargs="+", required=True,
                   help="evaluation directories (each with run.json and episodes.jsonl)")
    cfg, args = parse_config(TablesConfig, argv, parser=p)
    try:
        paths = write_tables(args.runs, cfg.out, cfg.reference, cfg.ceiling)
    except (FileNotFoundError, RecordsError, ValueError) as e:
        die(str(e))
    table = pd.read_csv(paths["table_manipulation.csv"])
    with pd.option_context("display.width", 200, "display.max_columns", 8):
        print(table[["method", "seen_AVG", "unseen_AVG"]].to_string(index=False))
    return done(f"tables and plot in {cfg.out}")


if __name__ == "__main__":
    raise SystemExit(main())
