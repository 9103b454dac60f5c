"""Evaluation records on disk: `episodes.jsonl` (one JSON line per finished episode) beside `run.json`,
and the runs they make up.

- `read_episodes(path)`: a file's records; a last line without its newline (a write cut by kill -9) is
  ignored, and with `repair` cut off so appending can go on; a committed `episodes.jsonl.gz` is read in
  place of a missing `episodes.jsonl`;
- `EpisodeLog`: appends records and flushes each;
- `load_runs(dirs)`: {method label: Run} from evaluation directories, directories with the same label
  (shards of one evaluation) merged, an episode present twice counted once;
- `load_ceiling(dir)`: a ceiling search's records by work-item key.
"""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import TypedDict

from infra.files import to_jsonable

from .schema import EpisodeRecord, missing_fields

EPISODES = "episodes.jsonl"
RUN = "run.json"
CEILING_RECORDS = "ceiling.jsonl"  # a ceiling search's records (evaluation.ceiling)


class RecordsError(ValueError):
    """An unreadable or incomplete record file (CLIs exit 2 with the message)."""


class Run(TypedDict):
    records: list[EpisodeRecord]  # sorted by (master seed, work-list index)
    runs: list[dict]  # the run.json of every directory merged into it


def read_episodes(path, repair: bool = False, error: type = RecordsError) -> list[EpisodeRecord]:
    """The records of an episodes.jsonl (see the module doc); a bad line elsewhere raises `error`
    naming the file and line."""
    path = Path(path)
    packed = path.with_name(path.name + ".gz")  # committed records are gzipped (evaluation.pipeline)
    if not path.exists() and packed.exists():
        path, repair = packed, False
        data = gzip.decompress(packed.read_bytes())
    elif not path.exists():
        return []
    else:
        data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data) and repair:
        with open(path, "r+b") as f:
            f.truncate(end)
    out = []
    for n, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise error(f"{path}:{n}: unreadable line ({e}); fix or remove it") from None
    return out


class EpisodeLog:
    """Appends one JSON line per episode and flushes it (a kill loses at most the line being written)."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.f.write(json.dumps(to_jsonable(record), allow_nan=False) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def run_label(info: dict) -> str:
    """A run's method name: its --label, else its agent."""
    return info.get("label") or info.get("agent")


def load_runs(dirs) -> dict[str, Run]:
    """{method label: Run} from evaluation directories (run.json + episodes.jsonl, or .jsonl.gz);
    FileNotFoundError for a directory without run.json, RecordsError for a record without the
    fields every record has."""
    runs: dict[str, dict] = {}
    for d in dirs:
        d = Path(d)
        if not (d / RUN).exists():
            raise FileNotFoundError(f"{d}: no {RUN} (not an evaluation directory)")
        info = json.loads((d / RUN).read_text())
        entry = runs.setdefault(run_label(info), {"records": {}, "runs": []})
        entry["runs"].append(info)
        for r in read_episodes(d / EPISODES):
            lacking = missing_fields(r)
            if lacking:
                raise RecordsError(f"{d / EPISODES}: a record without {', '.join(lacking)} "
                                   f"(key {r.get('key')!r}): not an evaluation record")
            entry["records"].setdefault((r.get("seed"), r["key"]), r)
    return {k: {"records": sorted(v["records"].values(), key=lambda r: (r.get("seed"), r["index"])),
                "runs": v["runs"]} for k, v in runs.items()}


def load_run(directory) -> Run:
    """The one run of an evaluation directory."""
    return next(iter(load_runs([directory]).values()))


def load_ceiling(directory) -> dict[str, dict]:
    """{work-item key: search record} of a ceiling search directory (evaluation.ceiling)."""
    path = Path(directory) / CEILING_RECORDS
    if not path.exists() and not path.with_name(CEILING_RECORDS + ".gz").exists():
        raise FileNotFoundError(f"{directory}: no {CEILING_RECORDS} (run python -m evaluation.ceiling)")
    return {r["key"]: r for r in read_episodes(path)}
