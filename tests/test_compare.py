"""Paired statistics: exact McNemar, the paired bootstrap, pairing of two runs and the compare CLI."""
from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from evaluation.compare import main
from evaluation.results.paired import MismatchError, compare, mcnemar_p, paired_bootstrap, paired_outcomes


def test_mcnemar_matches_the_binomial_by_hand():
    # only_a = 1, only_b = 6: two-sided exact p = 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * (1 + 7) / 128
    assert mcnemar_p(1, 6) == pytest.approx(2 * (comb(7, 0) + comb(7, 1)) / 2 ** 7)
    assert mcnemar_p(6, 1) == pytest.approx(0.125)
    assert mcnemar_p(0, 10) == pytest.approx(2 / 2 ** 10)
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0  # balanced, or nothing discordant


def test_paired_bootstrap_by_hand():
    # one category, paired differences [1, 0]: resampled means are 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4,
    # so the 95% percentile interval is [0, 1]
    assert paired_bootstrap([np.array([1, 0])], resamples=4000) == (0.0, 1.0)
    # every episode of every category differs by +1: no spread at all
    assert paired_bootstrap([np.ones(5), np.ones(3)], resamples=500) == (1.0, 1.0)
    # categories are resampled too: two categories at +1 and -1 (no spread within) give a mean over two
    # drawn categories of -1, 0 or +1
    lo, hi = paired_bootstrap([np.ones(4), -np.ones(4)], resamples=4000)
    assert (lo, hi) == (-1.0, 1.0)
    assert paired_bootstrap([np.array([1, 0, 1])], seed=3) == paired_bootstrap([np.array([1, 0, 1])], seed=3)


def _run(outcomes: dict, seed: int = 0, image_size: int = 336, shift: int = 0) -> dict:
    """A run as tables.load_runs gives it: outcomes {(group, task, episode): 0/1}."""
    recs = [{"seed": seed, "key": f"{t}/{e:05d}", "index": i, "group": g, "task": t, "episode_seed": 1000 + e + shift,
             "instance_id": 80, "success": bool(s), "success_manipllm": bool(s)}
            for i, ((g, t, e), s) in enumerate(outcomes.items())]
    return {"records": recs, "runs": [{"config": {"split": "test", "image_size": image_size, "partnet_dir": None}}]}


def test_compare_pairs_episodes_and_refuses_other_work_lists():
    a = {("seen", "Safe", e): 1 for e in range(4)} | {("unseen", "Faucet", e): e % 2 for e in range(4)}
    b = {("seen", "Safe", e): int(e == 0) for e in range(4)} | {("unseen", "Faucet", e): 0 for e in range(4)}
    t = compare(_run(a), _run(b), resamples=500).set_index(["split", "category"])
    seen = t.loc[("seen", "mean over categories")]
    assert (seen.rate_a, seen.rate_b, seen["diff"]) == (1.0, 0.25, 0.75)
    assert (seen.both, seen.only_a, seen.only_b, seen.neither) == (1, 3, 0, 0)
    assert seen.mcnemar_p == pytest.approx(0.25)
    every = t.loc[("all", "mean over categories")]
    assert every["diff"] == pytest.approx(((1 - 0.25) + (0.5 - 0)) / 2)  # mean over categories
    assert every.only_a == 5 and every.mcnemar_p == pytest.approx(2 / 32)
    assert t.loc[("unseen", "Faucet")].episodes == 4
    with pytest.raises(MismatchError, match="work lists differ: 1 episodes only in the first run"):
        paired_outcomes(_run(a), _run({k: v for k, v in b.items() if k != ("seen", "Safe", 3)}))
    with pytest.raises(MismatchError, match="other episode seeds"):
        paired_outcomes(_run(a), _run(b, shift=1))
    with pytest.raises(MismatchError, match="other image_size"):
        paired_outcomes(_run(a), _run(b, image_size=128))


def _write(directory, run: dict, label: str) -> str:
    directory.mkdir()
    (directory / "run.json").write_text(json.dumps({"label": label, **run["runs"][0]}))
    (directory / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in run["records"]))
    return str(directory)


def test_compare_cli_prints_writes_and_refuses(tmp_path, capsys):
    a = {("seen", "Safe", e): 1 for e in range(6)}
    b = {("seen", "Safe", e): int(e < 2) for e in range(6)}
    da, db = _write(tmp_path / "a", _run(a), "alpha"), _write(tmp_path / "b", _run(b), "beta")
    assert main([da, db, "--out", str(tmp_path / "c.csv"), "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "A = alpha" in out and "B = beta" in out and "mean over categories" in out
    assert "0.667" in out  # the difference 1 - 2/6
    assert (tmp_path / "c.csv").read_text().startswith("split,category,")
    dc = _write(tmp_path / "c", _run(a, seed=1), "gamma")
    with pytest.raises(SystemExit) as e:
        main([da, dc])
    assert e.value.code == 2 and "work lists differ" in capsys.readouterr().err
