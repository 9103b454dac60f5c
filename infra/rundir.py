"""A resumable job's output directory and its record (a JSON file such as `manifest.json` or
`run.json`): the format, the identity (the settings that change what the job produces, so one
directory holds one combination), one entry per run of the command (command, start, seconds,
status) and whatever the job adds. Written atomically at the start and end of every run; a run
that never recorded its end is marked `killed` by the next one.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys
import time
from pathlib import Path

from .files import atomic_write_text, to_jsonable


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class RunDir:
    """`path`'s record file `record_name` in format `fmt` for a job with `identity`. `what` words
    the refusal ("--out X holds <what> with other settings"); `error` is the exception class raised
    (the CLIs turn it into exit code 2); names in `ignore` may sit in a new directory."""

    def __init__(self, path, record_name: str, fmt: str, identity: dict, what: str, error=ValueError,
                 ignore: tuple = ()):
        self.path, self.file = Path(path), Path(path) / record_name
        self.fmt, self.identity, self.what, self.error, self.ignore = fmt, identity, what, error, ignore
        self.record: dict | None = None
        self.run: dict | None = None
        self._t0 = 0.0

    def existing(self) -> dict | None:
        """The record if the directory holds this job, None if it is new or empty; `error` with one
        line otherwise (not a directory, foreign content, unreadable, other format or settings)."""
        out, path = self.path, self.file
        if out.exists() and not out.is_dir():
            raise self.error(f"--out {out}: exists and is not a directory")
        if not path.exists():
            if out.exists() and any(p.name not in self.ignore for p in out.iterdir()):
                raise self.error(f"--out {out}: directory is not empty and has no {path.name}; "
                                 f"give an empty or new directory")
            return None
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise self.error(f"{path}: unreadable ({e})") from None
        if record.get("format") != self.fmt:
            raise self.error(f"{path}: format {record.get('format')!r}, expected {self.fmt!r}")
        old = record.get("identity", {})
        diff = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in self.identity.items() if old.get(k) != v]
        if diff:
            raise self.error(f"--out {out} holds {self.what} with other settings ({'; '.join(diff)}); "
                             f"rerun with those settings or use another --out")
        return record

    def start(self, command: list[str] | None = None, new: dict | None = None, **run_fields) -> dict:
        """Open a run: the record (the existing one, or a new one with the keys of `new`), earlier
        runs without an end marked killed, a new run entry (`self.run`) appended; written at once."""
        record = self.existing()
        self.path.mkdir(parents=True, exist_ok=True)
        if record is None:
            record = {"format": self.fmt, "created": now(), "identity": self.identity, **(new or {}), "runs": []}
        for r in record["runs"]:
            if r["status"] == "running":  # that process never recorded its end
                r["status"] = "killed"
        self.run = {"command": command or sys.argv, "started": now(), "status": "running", "seconds": None,
                    **run_fields}
        record["runs"].append(self.run)
        record["status"] = "running"
        self.record = record
        self._t0 = time.perf_counter()
        self.save()
        return record

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    @contextlib.contextmanager
    def running(self, closing):
        """Run the body of the `with`; however it ends, `closing(status)` (status 'complete',
        'interrupted' on Ctrl-C, or 'failed') cleans up and returns (run status, record status,
        run fields) to finish the run with."""
        status = "failed"
        try:
            yield
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            run_status, record_status, fields = closing(status)
            self.finish(run_status, record_status, **fields)

    def finish(self, status: str, record_status: str | None = None, **run_fields) -> None:
        """Close the run with `status` and its wall time; the record's status is `record_status`
        (default: the same)."""
        self.run.update(status=status, seconds=round(self.elapsed(), 3), **run_fields)
        self.record["status"] = record_status or status
        self.save()

    def save(self) -> None:
        self.record["updated"] = now()
        atomic_write_text(self.file, json.dumps(to_jsonable(self.record), indent=2) + "\n")
