"""Progress bars that read well on a terminal and in a log.

    from infra.progress import progress_bar
    for x in progress_bar(items, desc="decode", unit="sample"):
        ...

On a terminal `progress_bar` is tqdm, as it is. Without one (stderr piped to a file, CI, a job
scheduler's log) tqdm would write every refresh of every bar with carriage returns, and nested bars
with cursor-movement escapes: a log of the main job grew to 600 KB in two minutes. There a bar is a
`LogBar`: plain lines, no carriage return and no escape sequence, at most one line per bar every
`LOG_INTERVAL` seconds while it runs, and one line when it ends, with the count,
the elapsed time and the overall rate, so the log reads as a list of steps. Nothing is printed for a bar
that never advanced, except its closing line.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_INTERVAL = 30.0  # seconds between two lines of one bar in a log
LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
LOG_FORMAT_NO_TOTAL = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"


class _Discard:
    """Where a LogBar lets tqdm write its own (terminal) output: nowhere."""

    def write(self, s) -> int:
        return len(s)

    def flush(self) -> None:
        pass


class LogBar(tqdm):
    """A tqdm bar that writes plain, newline-terminated lines to `out` (module doc)."""

    def __init__(self, *args, out=None, interval: float = LOG_INTERVAL, **kwargs):
        self._out = out if out is not None else sys.stderr
        self._interval = float(interval)
        self._last_line = time.monotonic()
        self._closing = self._done = False
        self._start_n = kwargs.get("initial", 0)  # tqdm displays once while it initialises
        for k in ("position", "dynamic_ncols", "ncols", "file"):
            kwargs.pop(k, None)
        # tqdm refreshes (and, when iterating, updates its count) on every step: display() below decides
        # when a line is due, so a line's count is never stale
        kwargs.setdefault("mininterval", 0.0)
        kwargs.setdefault("miniters", 1)
        kwargs.setdefault("bar_format", LOG_FORMAT if kwargs.get("total") is not None or args and hasattr(
            args[0], "__len__") else LOG_FORMAT_NO_TOTAL)
        super().__init__(*args, file=_Discard(), ncols=0, ascii=True, **kwargs)

    def display(self, msg=None, pos=None) -> bool:
        now = time.monotonic()
        if self._done or not self._closing and (self.n == self._start_n or now - self._last_line < self._interval):
            return True
        line = self.format_meter(**self.format_dict).replace("\r", " ").replace("\n", " ").rstrip()
        self._out.write(line + "\n")
        self._out.flush()
        self._last_line = now
        return True

    def close(self) -> None:
        if getattr(self, "disable", True) or self._closing:
            return super().close()
        self._closing = True
        self._ema_dt = lambda: None  # the closing line's rate: the average over the whole bar
        self.display()
        self._done = True  # tqdm's own closing display writes nothing more
        super().close()


def on_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(*args, file=None, **kwargs) -> tqdm:
    """tqdm on a terminal (`file`, default stderr), a LogBar elsewhere; the arguments are tqdm's."""
    if on_terminal(file):
        return tqdm(*args, file=file, **kwargs)
    return LogBar(*args, out=file, **kwargs)
