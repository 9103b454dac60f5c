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

from dataclasses import dataclass

import pandas as pd

from infra.cli import check_at_least, check_choice, command_parser, die, done, option, parse_config

from .results.criteria import names as criterion_names
from .results.paired import RESAMPLES, MismatchError, compare
from .results.records import RecordsError, load_run, run_label


# ---------------------------------------------------------------------------------------- CLI
@dataclass
class CompareConfig:
    criterion: str = option("success", "success criterion: success (|dq| > 0.1), success_manipllm, or one "
                                       "registered in evaluation.results.criteria")
    resamples: int = option(RESAMPLES, "bootstrap resamples")
    seed: int = option(0, "seed of the bootstrap")
    out: str | None = option(None, "also write the table to this CSV file, and its plot beside it (same name, .png)")

    def __post_init__(self):
        check_choice(self, "criterion", criterion_names())
        check_at_least(self, resamples=100)


def main(argv=None) -> int:
    p = command_parser("python -m evaluation.compare", __doc__)
    p.add_argument("run_a", help="evaluation directory A (run.json + episodes.jsonl)")
    p.add_argument("run_b", help="evaluation directory B, evaluated on the same work list")
    cfg, args = parse_config(CompareConfig, argv, parser=p)
    try:
        runs = [load_run(d) for d in (args.run_a, args.run_b)]
        table = compare(*runs, cfg.criterion, cfg.resamples, cfg.seed)
    except MismatchError as e:
        die(f"{args.run_a} vs {args.run_b}: {e}")
    except (FileNotFoundError, RecordsError, ValueError) as e:
        die(str(e))
    labels = [run_label(run["runs"][0]) for run in runs]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(f"A = {labels[0]} ({args.run_a}), B = {labels[1]} ({args.run_b}); {cfg.criterion}; diff = A - B, "
              f"paired bootstrap 95% interval, exact McNemar p")
        print(table.drop(columns=["categories"]).to_string(index=False))
    if cfg.out:
        from pathlib import Path

        from infra.files import atomic_write_text, save_figure

        atomic_write_text(cfg.out, table.to_csv(index=False))
        png = Path(cfg.out).with_suffix(".png")
        save_figure(plot(table, labels, cfg.criterion), png)
        return done(f"wrote {cfg.out} and {png}")
    return 0


def plot(table: pd.DataFrame, labels: list[str], criterion: str):
    """The difference A - B per category and per split, with its paired 95% interval (matplotlib figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table.iloc[::-1].reset_index(drop=True)  # the split means on top
    names = [f"{r.split}: {r.category}" for r in rows.itertuples()]
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(rows) + 1.2))
    mean = rows.category == "mean over categories"
    for sel, colour in ((~mean, "tab:blue"), (mean, "black")):
        r = rows[sel]
        ax.errorbar(r["diff"], r.index, xerr=[r["diff"] - r.ci_low, r.ci_high - r["diff"]], fmt="o", ms=3,
                    color=colour, ecolor=colour, elinewidth=1, capsize=2)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.set_xlabel(f"{labels[0]} - {labels[1]} ({criterion}), paired bootstrap 95% interval")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    raise SystemExit(main())
