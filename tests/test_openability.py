"""Every category is physically openable by the benchmark's primitive (issue acceptance): the single
pull of the motion-aware expert opens >= 50% of the first 6 test instances of every category and >= 90%
over all (0.973 on 10 per category, bench/README.md; the reference protocol's action opened 0.750 there);
and no movable part jams on another part when driven through its range."""
import numpy as np
import pytest

from sim_envs.categories import ALL, resolve
from sim_envs.openability import expert_trials, free_travel, summarize

N_INSTANCES = 6
TRIES = 1


@pytest.fixture(scope="module")
def expert_records(env):
    records = []
    for cat in ALL:
        ids = list(env.unwrapped.source.instances(resolve(cat), "test"))[:N_INSTANCES]
        assert len(ids) == N_INSTANCES
        records += expert_trials(env, cat, ids, tries=TRIES)
    return records


def test_every_category_is_openable_by_the_expert(expert_records):
    table = summarize(expert_records)
    assert list(table.index) == list(ALL) and (table["trials"] == N_INSTANCES).all()
    weak = table[table["success"] < 0.5]
    assert weak.empty, f"categories under 50% success within {TRIES} expert actions:\n{weak}"
    overall = np.mean([r["success"] for r in expert_records])
    assert overall >= 0.9, f"overall success of the single expert pull {overall:.3f} < 0.9"


def test_no_trial_is_silently_broken(expert_records):
    reasons = {r["failure_reason"] for r in expert_records if r["failure_reason"]}
    assert not any(r.startswith(("physics_nan", "scene_invalid")) for r in reasons), reasons


@pytest.mark.parametrize("cat", ALL)
def test_parts_travel_their_range_without_jamming(env, cat):
    for inst in list(env.unwrapped.source.instances(resolve(cat), "test"))[:3]:
        reached = free_travel(env, cat, inst)
        assert reached and min(reached.values()) > 0.9, (cat, inst, reached)
