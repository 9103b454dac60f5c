"""The work list: which episodes an evaluation runs, fixed by a master seed.

Every agent evaluated with the same (seed, categories, episodes, split, object source) gets the same
list, so results are paired: episode k of a category shows every agent the same object instance,
scale, initial joint state, target part and camera. An item is a pure function of
(master seed, task, episode number): it does not depend on the worker count, on the order in which
episodes finish, on which other categories are evaluated, or on sharding.

- `episode_seed` comes from a SeedSequence of (master seed, "eval", task, episode), a stream apart
  from the one data collection uses, and is passed to `env.reset(seed=...)`;
- instances are balanced: a seeded permutation of the task's test instances is cycled, so 50
  episodes over 20 instances show each instance 2 or 3 times;
- `index` is the item's position in the list (categories in paper order, then episodes); a shard
  'i/n' takes the items whose index is i modulo n, so n machines split the list exactly.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

EVAL_STREAM = zlib.crc32(b"evaluation")


class WorkListError(ValueError):
    """Unknown category, a split without instances, or bad counts (CLIs exit 2 with the message)."""


@dataclass(frozen=True)
class WorkItem:
    index: int  # position in the full list (before sharding)
    task: str  # name given to env.reset(options={"task": ...}): a category or an alias
    category: str  # paper category (table column)
    group: str  # 'seen' or 'unseen' (docs/protocol.md section 6)
    split: str  # instance split ('test')
    episode: int  # episode number within the task: 0 .. episodes-1
    instance_id: object  # int (procedural) or str (PartNet-Mobility id)
    episode_seed: int

    @property
    def key(self) -> str:
        """Unique within a list and stable across runs: '<task>/<episode>'."""
        return f"{self.task}/{self.episode:05d}"

    def reset_options(self) -> dict:
        return {"task": self.task, "split": self.split, "instance_id": self.instance_id}

    def to_dict(self) -> dict:
        return {**asdict(self), "key": self.key}


def episode_seed(seed: int, task: str, episode: int) -> int:
    ss = np.random.SeedSequence([int(seed), EVAL_STREAM, zlib.crc32(task.encode()), int(episode)])
    return int(ss.generate_state(1, np.uint32)[0] & 0x7FFFFFFF)


def resolve_tasks(spec: str) -> list:
    """sim_envs Tasks for 'all', 'seen', 'unseen' (or 'all-seen', 'all-unseen') or a comma list."""
    from sim_envs.categories import UnknownCategoryError, resolve_many

    key = str(spec).strip().lower()
    key = {"seen": "all-seen", "unseen": "all-unseen"}.get(key, key)
    try:
        return resolve_many(key)
    except UnknownCategoryError as e:
        raise WorkListError(f"{e}; or one of all, seen, unseen") from None


def task_name(task) -> str:
    """The canonical name of a task: its paper category ('TrashCan'), or the alias when the alias
    restricts the joint type ('drawer', 'cabinet_door')."""
    return task.category if task.joint_type is None else task.name


def task_instances(task, split: str, partnet_dir: str | None = None) -> list:
    """Instance ids of a task's split in the object source (no simulator import for procedural)."""
    try:
        if partnet_dir:
            from sim_envs.sources import make_source

            ids = list(make_source(partnet_dir).instances(task, split))
        else:
            from sim_envs import objects

            ids = list(objects.instances(task.category, split, task.joint_type))
    except (ValueError, FileNotFoundError) as e:
        raise WorkListError(f"category {task.name}: {e}") from None
    if not ids:
        raise WorkListError(f"category {task.name}: no {split} instances in the "
                            f"{'PartNet-Mobility' if partnet_dir else 'procedural'} source")
    return ids


def categories_with_objects(spec: str, split: str, partnet_dir: str | None = None) -> list[str]:
    """Names of the tasks of `spec` whose object source holds `split` objects: all of them for the procedural
    source; on a PartNet directory, those it has objects of. Raises WorkListError for a bad `spec`."""
    tasks = resolve_tasks(spec)
    if partnet_dir:
        from sim_envs.sources import make_source

        source = make_source(partnet_dir)
        tasks = [t for t in tasks if source.instances(t, split)]
    return [task_name(t) for t in tasks]


def evaluation_categories(categories: str, partnet_dir: str | None) -> str:
    """A main job's evaluation --categories: as given, except that 'all' on a PartNet directory means the
    categories it holds test objects of (comma list; '' if none)."""
    if not (partnet_dir and categories.strip().lower() == "all"):
        return categories
    return ",".join(categories_with_objects("all", "test", partnet_dir))


def work_items(seed: int = 0, categories: str = "all", episodes: int = 50, split: str = "test",
               partnet_dir: str | None = None, shard: tuple[int, int] = (0, 1)) -> list[WorkItem]:
    """The evaluation's items, in list order (see module doc). Raises WorkListError."""
    if not isinstance(episodes, int) or episodes < 1:
        raise WorkListError(f"episodes={episodes!r}: must be an integer >= 1")
    from sim_envs.categories import SEEN

    items = []
    for task in resolve_tasks(categories):
        name = task_name(task)
        ids = task_instances(task, split, partnet_dir)
        rng = np.random.default_rng([int(seed), EVAL_STREAM, zlib.crc32(name.encode())])
        order = [ids[i] for i in rng.permutation(len(ids))]
        for k in range(episodes):
            inst = order[k % len(order)]
            items.append(WorkItem(index=len(items), task=name, category=task.category,
                                  group="seen" if task.category in SEEN else "unseen", split=split,
                                  episode=k, instance_id=inst if isinstance(inst, str) else int(inst),
                                  episode_seed=episode_seed(seed, name, k)))
    i, n = shard
    return [it for it in items if it.index % n == i]


def work_list_or_die(cfg) -> tuple[list[str], list[WorkItem]]:
    """(task names, the whole work list) of a CLI config with seed, categories, episodes, split and
    partnet_dir; a bad selection exits 2 with one line naming --categories."""
    from infra.cli import die

    try:
        tasks = [task_name(t) for t in resolve_tasks(cfg.categories)]
        return tasks, work_items(cfg.seed, cfg.categories, cfg.episodes, cfg.split, cfg.partnet_dir)
    except WorkListError as e:
        die(f"--categories {cfg.categories}: {e}")
