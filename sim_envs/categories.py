"""Benchmark categories as data: seen/unseen split, paper column order, task aliases.

A *task name* is what a user types (`--category drawer`): a paper category name in any case and
spelling of separators (`StorageFurniture`, `storage_furniture`, `trash-can`) or an alias from
`categories.json` that may also fix the joint type of the target part (`drawer` = prismatic parts of
StorageFurniture, `cabinet_door` = revolute ones).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

JOINT_TYPES = ("prismatic", "revolute")
_DATA = Path(__file__).with_name("categories.json")


class UnknownCategoryError(ValueError):
    """A task name that is neither a category nor an alias (the message lists the allowed ones)."""


@dataclass(frozen=True)
class Task:
    """What an episode targets: a category and, optionally, one joint type of the target part."""

    name: str  # the name the user gave, normalised (e.g. "drawer", "storagefurniture")
    category: str  # paper spelling, e.g. "StorageFurniture"
    joint_type: str | None = None  # None: any movable part

    @property
    def seen(self) -> bool:
        return self.category in SEEN


@lru_cache(maxsize=1)
def _load() -> dict:
    return json.loads(_DATA.read_text())


SEEN: tuple[str, ...] = tuple(_load()["seen"])
UNSEEN: tuple[str, ...] = tuple(_load()["unseen"])
ALL: tuple[str, ...] = SEEN + UNSEEN  # the paper's column order (docs/protocol.md section 6)
ALIASES: dict = _load()["aliases"]
SELECTIONS = ("all", "all-seen", "all-unseen")


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_NORM = {_norm(c): c for c in ALL}
_ALIAS_BY_NORM = {_norm(a): (a, v) for a, v in ALIASES.items()}


def allowed_names() -> list[str]:
    return list(ALL) + sorted(ALIASES)


def resolve(name: str) -> Task:
    """Task for one category name or alias; raises UnknownCategoryError naming the allowed ones."""
    key = _norm(str(name))
    if key in _BY_NORM:
        return Task(name=key, category=_BY_NORM[key])
    if key in _ALIAS_BY_NORM:
        alias, spec = _ALIAS_BY_NORM[key]
        jt = spec.get("joint_type")
        assert jt is None or jt in JOINT_TYPES, f"bad joint_type in categories.json for {alias}"
        return Task(name=alias, category=spec["category"], joint_type=jt)
    raise UnknownCategoryError(
        f"unknown category {name!r}; allowed: {', '.join(allowed_names())} "
        f"(case and '_'/'-' do not matter)"
    )


def resolve_many(text: str) -> list[Task]:
    """Comma-separated names, or a selection: all, all-seen, all-unseen."""
    key = str(text).strip().lower()
    if key == "all":
        return [resolve(c) for c in ALL]
    if key == "all-seen":
        return [resolve(c) for c in SEEN]
    if key == "all-unseen":
        return [resolve(c) for c in UNSEEN]
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if not names:
        raise UnknownCategoryError(
            f"empty category list {text!r}; give names or one of {', '.join(SELECTIONS)}"
        )
    tasks, seen_keys = [], set()
    for n in names:
        t = resolve(n)
        if (t.category, t.joint_type) not in seen_keys:
            seen_keys.add((t.category, t.joint_type))
            tasks.append(t)
    return tasks


def instance_range(category: str, split: str) -> range:
    """Procedural instance ids of a category's split ('train' or 'test')."""
    group = "seen" if category in SEEN else "unseen"
    ranges = _load()["instances"][group]
    if split not in ranges:
        allowed = ", ".join(sorted(ranges))
        raise ValueError(f"split {split!r} does not exist for {group} category {category}; allowed: {allowed}")
    lo, hi = ranges[split]
    return range(lo, hi)


def prompt_for(category: str) -> str:
    """The text prompt of docs/protocol.md section 1."""
    return f"Predict the contact point and orientation for pulling the {category_words(category)}."


def category_words(category: str) -> str:
    """'StorageFurniture' -> 'storage furniture'; 'USB' stays 'USB'."""
    if category.isupper():
        return category
    words, cur = [], ""
    for ch in category:
        if ch.isupper() and cur:
            words.append(cur)
            cur = ch
        else:
            cur += ch
    words.append(cur)
    return " ".join(w.lower() for w in words)
