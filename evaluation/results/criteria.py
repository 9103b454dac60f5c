"""Success criteria: one registry that every table, comparison, ceiling search and summary reads.

A criterion has a name (the column it fills, and the record field where a stored flag lives), the
record fields it reads, how it judges a record, and how it explains a failure. The two built-ins read
the flags the environment stores (sim_envs.outcome): `success` (RoboMamba: |dq| > 0.1, moved by the
pull) and `success_manipllm` (ManipLLM: a smaller motion suffices, in the pull's direction). A new
criterion computed from recorded fields is one registration, and applies to old records too:

    from evaluation.results.criteria import Criterion, register
    register(Criterion("success_dq02", "|dq| > 0.2, moved by the pull", reads=("dq", "pulled"),
                       compute=lambda r: abs(r["dq"]) > 0.2 and r["pulled"]))

The tables then give it a paper-layout table (`table_manipulation_success_dq02.csv`), summary,
failures and seeds rows, and the comparisons a row per pair; the ceiling search looks for an action
that satisfies it too.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Criterion:
    name: str  # the column and, for a stored flag, the record field that holds it
    description: str
    reads: tuple[str, ...]  # the record fields it reads
    compute: Callable[[dict], bool] | None = None  # None: the record's stored flag `name` (False if absent)
    reason_field: str | None = None  # the record field with its failure reason (None: `failure_reason`, or
    #                                  'criterion_not_met' where the record shows no reason)
    table: str | None = None  # its paper-layout table file (default table_manipulation_<name>.csv)
    published: bool = False  # the papers' published rows (RoboMamba Table 2, ManipLLM Table 1) belong beside it

    def passed(self, record: dict) -> bool:
        """Whether `record` meets the criterion: its flag `name` where the record stores one (the
        environment's, or a ceiling search's), else the computed value."""
        if self.compute is None or self.name in record:
            return bool(record.get(self.name))
        return bool(self.compute(record))

    def outcome(self, record: dict) -> str:
        """'success', or the failure's reason: the first word of its reason field ('unexplained' for a
        failure without one, as in records from before reasons were kept)."""
        if self.passed(record):
            return "success"
        if self.reason_field is not None:
            text = record.get(self.reason_field, record.get("failure_reason")) or ""
        else:
            text = record.get("failure_reason") or ("criterion_not_met" if self.compute is not None else "")
        return text.split(":")[0].strip() or "unexplained"

    @property
    def table_file(self) -> str:
        return self.table or f"table_manipulation_{self.name}.csv"


BUILTIN = (
    Criterion("success", "RoboMamba: |dq| > 0.1 of the target joint, moved by the pull",
              reads=("success", "failure_reason"), reason_field="failure_reason", table="table_manipulation.csv",
              published=True),
    Criterion("success_manipllm", "ManipLLM: (|dq| > 0.03 or |dq|/range > 0.5) and cosine > 0.3, moved by the pull",
              reads=("success_manipllm", "failure_reason_manipllm"), reason_field="failure_reason_manipllm",
              table="table_manipulation_manipllm.csv", published=True),
)
_REGISTRY: dict[str, Criterion] = {c.name: c for c in BUILTIN}


class UnknownCriterionError(ValueError):
    pass


def register(criterion: Criterion, replace: bool = False) -> Criterion:
    """Add a criterion (after those registered before it); ValueError if the name is taken."""
    if criterion.name in _REGISTRY and not replace:
        raise ValueError(f"a criterion named {criterion.name!r} is registered already")
    _REGISTRY[criterion.name] = criterion
    return criterion


def unregister(name: str) -> None:
    """Remove a registered criterion (the built-ins stay)."""
    if name in {c.name for c in BUILTIN}:
        raise ValueError(f"{name!r} is a built-in criterion")
    _REGISTRY.pop(name, None)


def criteria() -> list[Criterion]:
    """Every registered criterion, built-ins first, in registration order."""
    return list(_REGISTRY.values())


def names() -> list[str]:
    return list(_REGISTRY)


def get(name) -> Criterion:
    """The criterion `name` (a Criterion is returned as it is); UnknownCriterionError lists the names."""
    if isinstance(name, Criterion):
        return name
    if name not in _REGISTRY:
        raise UnknownCriterionError(f"unknown criterion {name!r}; allowed: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
