"""What every episode of a work list shows the agent, as small JPEGs: the report's episode browser.

    python -m evaluation.observe --episodes 50 --out out/pipeline/tables/media/observations

Every agent evaluated with the same list meets the same episodes, so an episode's observation is
rendered once, here, by resetting its environment (no agent, no physics step): `<task>_<episode>.jpg`
(the RGB image, downscaled to --size pixels) for each item, and `index.json` with, per episode key,
the file, the rendered image side and the camera intrinsics (evaluation.report draws each method's
contact point and directions over the picture with them). Files already there are kept, so an
interrupted run resumes; every write is atomic.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.cli import check_at_least, die, option, parse_config, run_job

from .config import WorkListConfig

INDEX = "index.json"
FORMAT = "robomamba-bench/observations/v1"
NOT_STEPPED = "not_executed: observation only"


@dataclass
class ObserveConfig(WorkListConfig):
    out: str = option("out/observations", "output directory of the JPEGs and index.json")
    size: int = option(168, "side of the saved JPEG, pixels (the rendered image is --image-size)")
    quality: int = option(80, "JPEG quality, 1-95")

    def __post_init__(self):
        self.validate()
        check_at_least(self, size=16, quality=1)
        if self.quality > 95:
            from infra.cli import ConfigError

            raise ConfigError("quality", self.quality, "must be at most 95")


def file_name(item) -> str:
    return f"{item.task}_{item.episode:05d}.jpg"


def jpeg(rgb: np.ndarray, size: int, quality: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if img.width != size:
        img = img.resize((size, size), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def read_index(out: Path) -> dict:
    p = out / INDEX
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text())
        return dict(data["episodes"])
    except (ValueError, KeyError, TypeError):
        die(f"{p}: not an observation index (delete it to render again)")


def render(cfg: WorkListConfig, items: list, on_obs, on_end=None, desc: str = "observations") -> None:
    """Reset each item's episode in simulation workers (cfg's) and end it unstepped: `on_obs(item, obs)`
    for each observation (the agent's view: RGB, depth, masks, intrinsics, ...), then `on_end(item, info)`
    when the episode is over (its info says why where the reset failed and no observation came)."""
    from infra.progress import progress_bar

    from .simulate import make_pool

    bar = progress_bar(total=len(items), desc=desc, unit="ep", disable=cfg.quiet)
    if not items:
        bar.close()
        return
    pool, capacity = make_pool(cfg.env_config(items[0].task), cfg.workers, 1, False, cfg.executor, cfg.ray_address)
    by_key = {it.key: it for it in items}
    queue, held = list(reversed(items)), {w: 0 for w in pool.workers}
    remaining = len(items)
    try:
        while remaining:
            for w in pool.workers:
                while queue and held[w] < capacity:
                    pool.send(w, ("item", queue.pop(), 0))
                    held[w] += 1
            replies = pool.poll(timeout=1.0)
            if not replies and pool.dead():
                from infra.workers import WorkerDied

                raise WorkerDied("a simulation worker died; what was rendered is kept: rerun to resume")
            for w, (kind, key, payload) in replies:
                if kind == "obs":  # the episode ends here, never stepped
                    on_obs(by_key[key], payload["obs"])
                    pool.send(w, ("act", payload["slot"], NOT_STEPPED))
                else:
                    held[w] -= 1
                    if on_end is not None:
                        on_end(by_key[key], payload["info"])
                    remaining -= 1
                    bar.update(1)
    finally:
        pool.close()
        bar.close()


def observe(cfg: ObserveConfig, items: list) -> dict:
    """Render the items whose JPEG is missing; returns the whole index {key: entry}."""
    from infra.files import atomic_write_bytes

    out = Path(cfg.out)
    index = read_index(out)
    todo = [it for it in items if not (it.key in index and (out / index[it.key]["file"]).is_file())]
    if len(todo) < len(items):
        print(f"observations: {len(items) - len(todo)} of {len(items)} already in {out}", flush=True)

    def on_obs(it, obs):
        atomic_write_bytes(out / file_name(it), jpeg(obs["rgb"], cfg.size, cfg.quality))
        K = np.asarray(obs["intrinsics"], dtype=np.float64)
        index[it.key] = {"file": file_name(it), "image_size": cfg.image_size, "intrinsics": K.round(6).tolist()}

    done = [0]

    def on_end(it, info):
        if it.key not in index:  # its reset failed: no picture (the browser says so)
            index[it.key] = {"file": None, "image_size": cfg.image_size, "intrinsics": None,
                             "reason": info.get("failure_reason", "")}
        done[0] += 1
        if done[0] % 100 == 0:
            write_index(out, index, cfg)

    try:
        render(cfg, todo, on_obs, on_end)
    finally:
        write_index(out, index, cfg)
    return index


def index_config(cfg: ObserveConfig) -> dict:
    return {"seed": cfg.seed, "categories": cfg.categories, "episodes": cfg.episodes, "image_size": cfg.image_size,
            "size": cfg.size, "partnet_dir": cfg.partnet_dir, "physics": cfg.physics, "env": list(cfg.env)}


def write_index(out: Path, index: dict, cfg: ObserveConfig) -> None:
    from infra.files import atomic_write_text

    atomic_write_text(out / INDEX, json.dumps({"format": FORMAT, "config": index_config(cfg), "episodes": index},
                                              sort_keys=True) + "\n")


def main(argv=None) -> int:
    cfg, _ = parse_config(ObserveConfig, argv, "python -m evaluation.observe", __doc__)
    from .episodes import work_list_or_die

    _, items = work_list_or_die(cfg)
    index = run_job(lambda: observe(cfg, items), cfg.out, "observations")
    shown = sum(1 for it in items if index.get(it.key, {}).get("file"))
    print(f"observations: {shown} of {len(items)} episodes in {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
