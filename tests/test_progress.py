"""Progress without a terminal (infra.progress): plain lines, no carriage return or escape sequence, at
most one line per bar per LOG_INTERVAL while it runs and one when it ends."""
from __future__ import annotations

import io
import re
import time

from infra.progress import LOG_INTERVAL, LogBar, progress_bar

CONTROL = re.compile(r"[\r\x1b]")


def test_a_bar_in_a_log_writes_a_line_per_interval_and_one_at_the_end():
    out = io.StringIO()  # not a terminal
    bar = progress_bar(total=400, desc="work", unit="ep", file=out, interval=0.2)
    assert isinstance(bar, LogBar)
    t0 = time.monotonic()
    for i in range(400):
        bar.update(1)
        bar.set_postfix_str(f"ok {i}", refresh=False)
        time.sleep(0.0025)
    elapsed = time.monotonic() - t0
    bar.close()
    bar.close()  # closing twice writes nothing more
    text = out.getvalue()
    lines = text.splitlines()
    assert not CONTROL.search(text) and text.endswith("\n")
    assert 2 <= len(lines) <= elapsed / 0.2 + 1, lines  # one per 0.2 s at most, plus the closing line
    assert lines[-1].startswith("work: 100% 400/400") and "ok 399" in lines[-1]


def test_a_short_bar_writes_its_closing_line_only_and_a_disabled_one_nothing():
    out = io.StringIO()
    for _ in progress_bar(range(50), desc="quick", file=out):
        pass
    bar = progress_bar(total=3, desc="off", file=out, disable=True)
    bar.update(3)
    bar.close()
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("quick: 100% 50/50 [")
    assert LOG_INTERVAL == 30.0


def check_log(stderr: str, elapsed: float, bars: dict[str, int]) -> None:
    """A command's stderr, piped: no control characters, and each of the `bars[desc]` bars described
    `desc` at most one line per LOG_INTERVAL of the command's run, plus its closing line."""
    assert not CONTROL.search(stderr), repr(stderr[:500])
    for desc, n in bars.items():
        mine = [line for line in stderr.splitlines() if line.strip().startswith(desc + ":")]
        assert n <= len(mine) <= n * (1 + elapsed / LOG_INTERVAL), (desc, mine)
