"""The README's results tables, generated from the committed CSVs, so its numbers cannot drift from the
records behind them.

    python -m evaluation.readme              # rewrite README.md's generated blocks in place
    python -m evaluation.readme --check      # exit 1 naming every block that differs (the suite runs it)

A block sits between `<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->`; everything
between the two markers is replaced. Blocks:
- `main`: success per method, seen and unseen (mean over categories, RoboMamba's criterion), and the
  control rate of the learned agents, from results/default (table_manipulation.csv, speed.csv, the
  ceiling's run.json), with the paper's RoboMamba row;
- `comparisons`: the paired comparisons of robomamba, its twin and Where2Act, each training seed with the same
  seed of the others and with `random` (results/default/comparisons.csv: difference, paired bootstrap 95%
  interval, exact McNemar p);
- `physics`: the effect of each physics change (results/physics/physics_changes.csv, bench/physics.py);
- `table2`: Table 2's methods as the main job measured them (results/default), each beside its published
  rows, with every seed's unseen rate and its Wilson 95% interval;
- `table2-comparisons`: each UMPNet, FlowBot3D, ManipLLM and RoboFlamingo seed paired with `random`, and with
  Where2Act and robomamba of the same training seed (UMPNet also with FlowBot3D; results/default/comparisons.csv);
- `aggregation`: every method's rates as our tables aggregate them and as the reference code does
  (results/default/aggregation.csv).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from infra.cli import die, done, option, parse_config
from infra.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = {  # how the README names a method of the main job
    "ceiling (search)": "ceiling (search, <= {budget} tries per episode)",
    "oracle": "oracle (privileged expert, one try)",
    "robomamba": "robomamba (tiny, trained from scratch)",
    "transformer": "transformer twin (same size)",
    "where2act": "where2act",
    "umpnet": "umpnet",
    "flowbot3d": "flowbot3d",
    "manipllm": "manipllm (adapters on the frozen twin, the action as text)",
    "roboflamingo": "roboflamingo (cross-attention on the frozen twin)",
    "random": "random (a pixel on the object mask)",
    "chance": "chance (a pixel anywhere: the floor)",
}
PHYSICS_ROWS = {  # bench/physics.py's variants, as the README names them
    "legacy": "legacy (no object gravity, suction 2000 N/m, friction 1 / 0.3, no checks)",
    "+gravity,joint_friction": "+ object gravity and joint friction 0.05",
    "+friction_4": "+ friction 4",
    "+suction_45000": "+ suction 45000 N/m",
    "+approach_check": "+ approach check",
    "default": "default (+ unpulled motion not counted, hold until rest)",
}
MARK = re.compile(r"(<!-- begin generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)",
                  re.S)


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None or pd.isna(v) else f"{v:.{digits}f}"


def _family(label: str) -> str:
    return label.split("@s")[0]


def main_table(tables: Path) -> str:
    t = pd.read_csv(tables / "table_manipulation.csv")
    speed = pd.read_csv(tables / "speed.csv").set_index("method")
    job = json.loads((tables / "pipeline.json").read_text())
    budget = json.loads((tables / "runs" / job["ceiling"] / "run.json").read_text())["config"]["budget"]
    measured = t[~t.method.str.contains("paper)", regex=False)]
    rows, done_families = [], set()
    for _, r in measured.iterrows():
        label = r.method
        if " (mean of " in label:
            continue
        fam = _family(label)
        if "@s" in label:
            if fam in done_families:
                continue
            done_families.add(fam)
            seeds = [m for m in measured.method if _family(m) == fam and "@s" in m]
            mean = measured[measured.method == f"{fam} (mean of {len(seeds)} training seeds)"]
            src = mean.iloc[0] if len(mean) else r
            hz = speed.loc[[s for s in seeds if s in speed.index], "control_hz"].mean()
            note = f"; mean of {len(seeds)} training seeds" if len(seeds) > 1 else "; one training seed"
            name = DESCRIPTIONS.get(fam, fam)
            name = name[:-1] + note + ")" if name.endswith(")") else f"{name} ({note[2:]})"
            rows.append((name, src.seen_AVG, src.unseen_AVG, f"{hz:.0f}" if pd.notna(hz) else "-"))
        else:
            rows.append((DESCRIPTIONS.get(label, label).format(budget=budget), r.seen_AVG, r.unseen_AVG, "-"))
    first = [x for x in rows if x[0].startswith(("ceiling", "oracle"))]
    rows = sorted(first, key=lambda x: not x[0].startswith("ceiling")) + [x for x in rows if x not in first]
    paper = t[t.method == "RoboMamba (paper)"]
    ref = pd.read_csv(Path(__file__).with_name("reference") / "robomamba_speed_and_params.csv").set_index("method")
    if len(paper):
        rows.append((f"RoboMamba (paper: PartNet-Mobility, 2.8B, {ref.loc['RoboMamba', 'gpu']})",
                     paper.iloc[0].seen_AVG, paper.iloc[0].unseen_AVG, _fmt(ref.loc["RoboMamba", "control_hz"], 1)))
    lines = ["| method | seen | unseen | control Hz (this CPU, this run) |", "|---|---|---|---|"]
    lines += [f"| {n} | {_fmt(s)} | {_fmt(u)} | {hz} |" for n, s, u, hz in rows]
    return "\n".join(lines) + "\n"


def comparisons_block(tables: Path) -> str:
    """robomamba, its twin and Where2Act, each training seed against the same seed of the others and `random`
    (the other Table 2 methods: table2_comparisons_block)."""
    c = pd.read_csv(tables / "comparisons.csv")
    c = c[c.criterion == "success"]
    methods = set(c.method_a) | set(c.method_b)
    families = ("robomamba", "transformer", "where2act")
    lines = ["| A | B | split | A | B | A - B [paired 95% interval] | McNemar p |", "|---|---|---|---|---|---|---|"]
    for k, family in enumerate(families):
        for run in _seeds(methods, family):
            seed = run.split("@")[1]
            others = [f"{f}@{seed}" for f in families[k + 1:]] + ["random"]
            lines += [_pair(c, run, other, split) for other in others if other in methods
                      for split in ("seen", "unseen")]
    return "\n".join(lines) + "\n"


def physics_block(physics: Path) -> str:
    t = pd.read_csv(physics / "physics_changes.csv")
    agents = list(dict.fromkeys(t.agent))
    shown = {a: ("robomamba@s0" if a == "robomamba" else a) for a in agents}
    lines = ["| physics | " + " | ".join(shown[a] for a in agents) + " | successes from unpulled motion ("
             + " / ".join(agents) + ") |", "|---|" + "---|" * (len(agents) + 1)]
    for variant in dict.fromkeys(t.variant):
        part = t[t.variant == variant].set_index("agent")
        lines.append(f"| {PHYSICS_ROWS.get(variant, variant)} | "
                     + " | ".join(_fmt(part.loc[a, "success"]) for a in agents) + " | "
                     + " / ".join(str(int(part.loc[a, "unpulled_motion"])) for a in agents) + " |")
    return "\n".join(lines) + "\n"


TABLE2 = {"robomamba": "RoboMamba", "where2act": "Where2Act", "umpnet": "UMPNet", "flowbot3d": "FlowBot3D",
          "manipllm": "ManipLLM", "roboflamingo": "RoboFlamingo"}


def _seeds(methods, family: str) -> list[str]:
    return sorted(m for m in methods if m.startswith(family + "@s"))


def _published(t: pd.DataFrame, name: str) -> str:
    return f"{_fmt(t.loc[name, 'seen_AVG'])} / {_fmt(t.loc[name, 'unseen_AVG'])}" if name in t.index else "-"


def table2_block(tables: Path) -> str:
    t = pd.read_csv(tables / "table_manipulation.csv").set_index("method")
    s = pd.read_csv(tables / "summary.csv")
    s = s[(s.criterion == "success") & (s.category == "mean_over_episodes")].set_index(["method", "split"])
    lines = ["| method | seen | unseen | per training seed: seen | per training seed: unseen [Wilson 95%] | "
             "published, RoboMamba Table 2 (seen / unseen) | published, ManipLLM Table 1 |",
             "|---|---|---|---|---|---|---|"]
    for family, paper in [*TABLE2.items(), ("random", None)]:
        seeds = _seeds(t.index, family) or [family]
        if seeds[0] not in t.index:  # a method these tables did not run
            continue
        mean = t.loc[f"{family} (mean of {len(seeds)} training seeds)"] if len(seeds) > 1 else t.loc[seeds[0]]
        unseen = ", ".join(f"{s.loc[(m, 'unseen'), 'rate']:.2f} [{s.loc[(m, 'unseen'), 'wilson_low']:.2f}, "
                           f"{s.loc[(m, 'unseen'), 'wilson_high']:.2f}]" for m in seeds)
        lines.append(f"| {family} | {_fmt(mean.seen_AVG)} | {_fmt(mean.unseen_AVG)} | "
                     f"{', '.join(_fmt(t.loc[m, 'seen_AVG']) for m in seeds)} | {unseen} | "
                     f"{_published(t, f'{paper} (paper)')} | {_published(t, f'{paper} (ManipLLM paper)')} |")
    return "\n".join(lines) + "\n"


def _pair(c: pd.DataFrame, a: str, b: str, split: str) -> str:
    """One row of a paired comparison of run `a` with run `b`, oriented a - b whichever way the CSV holds it."""
    row = c[(c.method_a == a) & (c.method_b == b) & (c.split == split)]
    sign = 1
    if not len(row):
        row, sign = c[(c.method_a == b) & (c.method_b == a) & (c.split == split)], -1
    if len(row) != 1:
        raise KeyError(f"comparisons.csv has no {split} row for {a} and {b}")
    r = row.iloc[0]
    ra, rb = (r.rate_a, r.rate_b) if sign == 1 else (r.rate_b, r.rate_a)
    lo, hi = (r.ci_low, r.ci_high) if sign == 1 else (-r.ci_high, -r.ci_low)
    return (f"| {a} | {b} | {split} | {ra:.2f} | {rb:.2f} | {sign * r['diff']:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
            f"{r.mcnemar_p:.2g} |")


def table2_comparisons_block(tables: Path) -> str:
    c = pd.read_csv(tables / "comparisons.csv")
    c = c[c.criterion == "success"]
    methods = set(c.method_a) | set(c.method_b)
    lines = ["| A | B | split | A | B | A - B [paired 95% interval] | McNemar p |", "|---|---|---|---|---|---|---|"]
    for family in ("umpnet", "flowbot3d", "manipllm", "roboflamingo"):
        for run in _seeds(methods, family):
            seed = run.split("@")[1]
            others = ["random"] + [f"{f}@{seed}" for f in ("where2act", "robomamba")]
            if family == "umpnet":
                others.append(f"flowbot3d@{seed}")
            lines += [_pair(c, run, other, split) for other in others if other in methods
                      for split in ("seen", "unseen")]
    return "\n".join(lines) + "\n"


def aggregation_block(tables: Path) -> str:
    """Each method family's rates (mean over its training seeds) as our tables aggregate them and as the
    reference code does (aggregation.csv), with the share of episodes the reference keeps."""
    a = pd.read_csv(tables / "aggregation.csv")
    a = a[(a.criterion == "success") & (a.split != "all")].assign(family=lambda d: d.method.map(_family))
    order = list(dict.fromkeys(a.family))
    g = a.groupby(["family", "split"])[["mean_over_categories", "reference", "kept_fraction"]].mean()
    lines = ["| method | seen: ours | seen: reference's aggregation | seen: episodes kept | unseen: ours | "
             "unseen: reference's aggregation | unseen: episodes kept |", "|---|---|---|---|---|---|---|"]
    for f in order:
        cells = [f"{_fmt(g.loc[(f, sp), 'mean_over_categories'])} | {_fmt(g.loc[(f, sp), 'reference'])} | "
                 f"{g.loc[(f, sp), 'kept_fraction']:.0%}" for sp in ("seen", "unseen")]
        seeds = a[a.family == f].method.nunique()
        lines.append(f"| {f}{f' (mean of {seeds} seeds)' if seeds > 1 else ''} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def blocks(root: Path = ROOT) -> dict[str, str]:
    """{block name: its generated text} from the committed CSVs under `root`/results."""
    return {"main": main_table(root / "results" / "default"),
            "comparisons": comparisons_block(root / "results" / "default"),
            "physics": physics_block(root / "results" / "physics"),
            "table2": table2_block(root / "results" / "default"),
            "table2-comparisons": table2_comparisons_block(root / "results" / "default"),
            "aggregation": aggregation_block(root / "results" / "default")}


def render(text: str, generated: dict[str, str]) -> tuple[str, list[str]]:
    """(`text` with every generated block replaced, the names of the blocks that changed); ValueError
    for a marker naming no known block, or a known block without its markers."""
    changed, found = [], set()

    def swap(m):
        name = m.group("name")
        if name not in generated:
            raise ValueError(f"unknown generated block {name!r}; known: {', '.join(generated)}")
        found.add(name)
        if m.group("body") != generated[name]:
            changed.append(name)
        return m.group(1) + generated[name] + m.group(4)

    out = MARK.sub(swap, text)
    missing = sorted(set(generated) - found)
    if missing:
        raise ValueError(f"no markers for the generated blocks {', '.join(missing)} "
                         f"(<!-- begin generated: NAME --> ... <!-- end generated: NAME -->)")
    return out, changed


@dataclass
class ReadmeConfig:
    readme: str = option("README.md", "the file with the generated blocks")
    check: bool = option(False, "only check: exit 1 naming each block that differs from the CSVs")


def main(argv=None) -> int:
    cfg, _ = parse_config(ReadmeConfig, argv, "python -m evaluation.readme", __doc__)
    path = Path(cfg.readme)
    if not path.exists():
        die(f"--readme {cfg.readme}: no such file")
    try:
        text, changed = render(path.read_text(), blocks())
    except (ValueError, FileNotFoundError, KeyError) as e:
        die(f"--readme {cfg.readme}: {e}")
    if cfg.check:
        if changed:
            print(f"{cfg.readme}: generated blocks differ from the committed CSVs: {', '.join(changed)}; "
                  f"run python -m evaluation.readme")
            return 1
        return done(f"{cfg.readme}: every generated block matches the committed CSVs")
    if changed:
        atomic_write_text(path, text)
    return done(f"{cfg.readme}: {len(changed)} block(s) rewritten" + (f" ({', '.join(changed)})" if changed else ""))


if __name__ == "__main__":
    raise SystemExit(main())
