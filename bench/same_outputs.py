"""Do two runs of the main job produce the same things? For changes that must not change behaviour.

    # the reduced main job, fully inline, at the old and at the new commit:
    git worktree add /tmp/before OLD_COMMIT
    (cd /tmp/before && python -m evaluation.pipeline --workers 0 --samples 20 --episodes 5 --qa-steps 200 \\
        --head-epochs 2 --where2act-epochs 2 --train-seeds 1 --out /tmp/eq/before)
    python -m evaluation.pipeline ...same flags... --out /tmp/eq/after
    python bench/same_outputs.py /tmp/eq/before /tmp/eq/after

Compares, file by file, the two output directories of `evaluation.pipeline`:
- every checkpoint's tensors (`model.safetensors`): bit-identical, name by name;
- the dataset's shards (Parquet): identical rows, every column;
- every evaluation's and the ceiling search's records, matched by (seed, key): identical once the fields
  that may differ between two runs of the same episodes are dropped (timings, worker, batch:
  evaluation.results.schema.VOLATILE, and any `*_seconds`);
- every table CSV except `speed.csv` (it holds timings): identical text.
Prints one line per file and exits 1 at the first difference of any kind (after listing them all).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def tensors(path: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path))


def compare_checkpoints(a: Path, b: Path, report) -> None:
    for fa in sorted(a.glob("checkpoints/*/model.safetensors")):
        fb = b / fa.relative_to(a)
        if not fb.exists():
            report(fa.relative_to(a), "missing in the second run")
            continue
        ta, tb = tensors(fa), tensors(fb)
        diff = sorted(k for k in ta.keys() | tb.keys()
                      if k not in ta or k not in tb or ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape
                      or ta[k].tobytes() != tb[k].tobytes())
        report(fa.relative_to(a), f"{len(diff)} of {len(ta)} tensors differ (e.g. {diff[:3]})" if diff else None,
               f"{len(ta)} tensors bit-identical")


def compare_dataset(a: Path, b: Path, report) -> None:
    import pyarrow.parquet as pq

    shards_a, shards_b = sorted(a.glob("data/shards/*/*.parquet")), sorted(b.glob("data/shards/*/*.parquet"))
    if [p.relative_to(a) for p in shards_a] != [p.relative_to(b) for p in shards_b]:
        report("data/shards", f"other shard files ({len(shards_a)} vs {len(shards_b)})")
        return
    rows = 0
    for fa, fb in zip(shards_a, shards_b):
        ta, tb = pq.read_table(fa), pq.read_table(fb)
        keep = [c for c in ta.column_names if not c.endswith("_seconds")]
        rows += ta.num_rows
        if keep != [c for c in tb.column_names if not c.endswith("_seconds")] or not ta.select(keep).equals(
                tb.select(keep)):
            report(fa.relative_to(a), "rows differ")
    report("data/shards", None, f"{len(shards_a)} shards, {rows} rows identical, every column")


def records_of(path: Path) -> dict:
    from evaluation.results.records import read_episodes

    return {(r.get("seed"), r["key"]): r for r in read_episodes(path)}


def compare_records(a: Path, b: Path, report) -> None:
    from evaluation.results.schema import comparable

    for fa in sorted([*a.glob("eval/*/episodes.jsonl"), *a.glob("ceiling/ceiling.jsonl")]):
        fb = b / fa.relative_to(a)
        ra, rb = records_of(fa), records_of(fb)
        if ra.keys() != rb.keys():
            report(fa.relative_to(a), f"other episodes ({len(ra)} vs {len(rb)})")
            continue
        diff = []
        for k in ra:
            x, y = comparable(ra[k]), comparable(rb[k])
            if x != y:
                fields = sorted(f for f in x.keys() | y.keys() if x.get(f) != y.get(f))
                diff.append((k[1], fields))
        report(fa.relative_to(a), f"{len(diff)} of {len(ra)} records differ (e.g. {diff[:2]})" if diff else None,
               f"{len(ra)} records identical")


def compare_tables(a: Path, b: Path, report) -> None:
    for fa in sorted(a.glob("tables/*.csv")):
        if fa.name == "speed.csv":  # timings
            continue
        fb = b / fa.relative_to(a)
        same = fb.exists() and fa.read_text() == fb.read_text()
        report(fa.relative_to(a), None if same else "differs", "identical")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python bench/same_outputs.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first", help="an evaluation.pipeline --out directory")
    p.add_argument("second", help="another one, made with the same flags")
    args = p.parse_args(argv)
    a, b = Path(args.first), Path(args.second)
    for d in (a, b):
        if not (d / "tables" / "pipeline.json").exists():
            print(f"error: {d}: not a finished evaluation.pipeline directory (no tables/pipeline.json)",
                  file=sys.stderr)
            return 2
    differences = []

    def report(what, difference, same="identical"):
        if difference:
            differences.append(f"{what}: {difference}")
        print(f"{'DIFFERS' if difference else 'same   '}  {what}: {difference or same}")

    cmd_a = json.loads((a / "tables" / "pipeline.json").read_text())["config"]
    cmd_b = json.loads((b / "tables" / "pipeline.json").read_text())["config"]
    shared = {k for k in cmd_a.keys() & cmd_b.keys() if k not in ("out", "tables")}
    other = sorted(k for k in shared if cmd_a[k] != cmd_b[k])
    if other:
        report("pipeline settings", f"made with other settings: {other}")
    for part in (compare_checkpoints, compare_dataset, compare_records, compare_tables):
        part(a, b, report)
    print(f"\n{len(differences)} differences" if differences else "\nno difference")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
