"""The episode record: one JSON line of an evaluation's `episodes.jsonl`, as one typed definition.

A record is, key for key, the union of four parts, each defined where it is produced:
- `sim_envs.episode.EpisodeInfo`: what `reset(seed)` sampled (object, scale, joint state, target, camera);
- `sim_envs.outcome.Outcome`: what the pull did (success under both criteria, failure reasons, |dq|, ...);
- `WorkItemFields` (evaluation.episodes.WorkItem.to_dict): the item of the paired work list;
- `EvaluatorFields`: which agent acted, its raw action, and the timings.

Where two parts share a key (`task`, `category`, `split`, `instance_id`, `episode_seed`), later parts
overwrite earlier ones with the same value. Records written before a field existed lack it; readers
use `.get`. `VOLATILE` lists the fields that may differ between two runs of the same episodes with the
same agent (timings, the worker and batch an episode landed in): everything else repeats.
"""
from __future__ import annotations

from typing import TypedDict

from sim_envs.episode import EpisodeInfo
from sim_envs.outcome import Outcome


class WorkItemFields(TypedDict, total=False):
    index: int  # position in the full work list (before sharding)
    task: str  # the name given to reset: a category or an alias ('drawer')
    category: str  # paper category (the table column)
    group: str  # 'seen' or 'unseen'
    split: str  # the instance split ('test')
    episode: int  # episode number within the task
    instance_id: int | str
    episode_seed: int
    key: str  # '<task>/<episode:05d>': unique within a work list, stable across runs


class EvaluatorFields(TypedDict, total=False):
    method: str  # the run's label (robomamba@s0)
    agent: str  # the registry name
    seed: int  # the work list's master seed
    agent_action: list[float] | None  # the agent's raw 8 numbers; None when it failed to act
    batch: int | None  # which act() call of the run
    batch_size: int | None  # how many episodes that call served
    act_seconds: float | None  # the call's wall time
    agent_seconds: float | None  # act_seconds / batch_size
    reset_seconds: float | None
    step_seconds: float | None
    worker: int  # the simulation worker that ran the episode


class EpisodeRecord(EpisodeInfo, Outcome, WorkItemFields, EvaluatorFields, total=False):
    """One evaluated episode (see the module doc)."""


REQUIRED = ("key", "index")  # every record has these (the rest is read with .get: older records lack fields)
# fields that may differ between two runs of the same episodes with the same agent
VOLATILE = ("act_seconds", "agent_seconds", "reset_seconds", "step_seconds", "worker", "batch", "batch_size")


def fields() -> dict[str, type]:
    """{field: annotation} of a record, every part included."""
    import typing

    return typing.get_type_hints(EpisodeRecord)


def missing_fields(record: dict) -> list[str]:
    """The REQUIRED fields `record` lacks (empty for a valid record)."""
    return [k for k in REQUIRED if k not in record]


def comparable(record: dict, drop=VOLATILE) -> dict:
    """`record` without the fields that may differ between two runs of the same episodes, nor any
    field ending in `_seconds`."""
    return {k: v for k, v in record.items() if k not in drop and not k.endswith("_seconds")}
