"""Training the UMPNet baseline on interaction outcomes: the collected dataset (successes and the kept
failures) and, where given, an exploration dataset whose pulls run in uniform directions over the
hemisphere (`data_collection.run --directions hemisphere --keep-failures`).

Every trial is a labelled interaction: pixel, pull direction (minus `up`) and what the pull did to the
target joint, one of DIRECTION_CLASSES: `opens` (a success, RoboMamba's criterion, with the joint moving
up from its closed lower limit), `closes` (a success moving it down) or `no_motion` (anything else).
Pixels on the object but off the target part are added as `no_motion` with random directions. Each
step trains, on a batch of images:
  direction  cross-entropy over the three classes at the interactions;
  position   BCE at the interaction pixels, towards "the pull moved the part" (1 for a success),
             and 0 at the off-part pixels.
The expert demos alone approach within about 10 degrees of the surface normal, so a direction network
trained on them never sees a bad direction: the exploration data is what teaches it to rank them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, check_positive, option

# the main job's settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"umpnet_epochs": "--epochs"}
# datasets the main job collects for it (evaluation.pipeline dataset: flag)
PIPELINE_DATA = {"exploration": "--exploration-data"}
EXTRA_COLUMNS = ("success", "dq")


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run (with --keep-failures)")
    exploration_data: str | None = option(None, "exploration dataset (data_collection.run --directions hemisphere "
                                                "--keep-failures) trained on as well; None = the dataset alone")
    out: str = option("checkpoints/umpnet", "checkpoint directory (written atomically)")
    agent: str = option("umpnet", "which agent to train")
    seed: int = option(0, "seed of initialisation, sampling and shuffling")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    image_size: int = option(112, "network input side, pixels (images are resized)")
    width: int = option(32, "feature channels of the network (a multiple of 8)")
    directions: int = option(64, "candidate directions scored at the chosen pixel at inference")
    epochs: int = option(6, "training epochs")
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    batch_size: int = option(16, "batch size (images)")
    pixels_per_image: int = option(4, "off-part pixels per image added as no-motion interactions")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_choice(self, "agent", ("umpnet",))
        check_at_least(self, image_size=8, width=8, directions=1, epochs=1, batch_size=1, pixels_per_image=0)
        if self.width % 8:
            raise ConfigError("width", self.width, "must be a multiple of 8")
        check_positive(self, "lr")


def direction_classes(frame) -> np.ndarray:
    """(N,) index into DIRECTION_CLASSES of each trial's outcome."""
    from .model import DIRECTION_CLASSES

    ok = frame["success"].to_numpy().astype(bool)
    dq = frame["dq"].to_numpy().astype(np.float64)
    out = np.full(len(frame), DIRECTION_CLASSES.index("no_motion"))
    out[ok & (dq > 0)] = DIRECTION_CLASSES.index("opens")
    out[ok & (dq < 0)] = DIRECTION_CLASSES.index("closes")
    return out


def load_interactions(cfg: TrainConfig):
    """(inputs (N, 7, S, S), frame, object and target masks, holdout) of the dataset and the exploration
    dataset together."""
    import pandas as pd

    from data_collection.dataset import read_manifest

    from ...training_data import load
    from ..rgbd import dataset_inputs

    if cfg.exploration_data:
        directions = read_manifest(cfg.exploration_data).get("collect_config", {}).get("directions")
        if directions != "hemisphere":
            raise ValueError(f"--exploration-data {cfg.exploration_data}: collected with directions {directions!r}, "
                             f"not 'hemisphere' (data_collection.run --directions hemisphere --keep-failures)")
    parts = []
    for root in [cfg.data] + ([cfg.exploration_data] if cfg.exploration_data else []):
        d = load(root, cfg.image_size, successes_only=False, holdout_fraction=cfg.holdout, with_masks=True,
                 progress=cfg.progress, extra=EXTRA_COLUMNS)
        parts.append((dataset_inputs(d), d.frame.assign(source=root), d.object_mask, d.target_mask, d.holdout))
    x, frame, obj, tgt, hold = zip(*parts)
    return (torch.cat(x), pd.concat(frame, ignore_index=True), np.concatenate(obj), np.concatenate(tgt),
            np.concatenate(hold))


def train(cfg: TrainConfig, log=print) -> dict:
    from infra.progress import progress_bar

    from ... import checkpoint
    from ...training_data import dataset_summary, pixel_targets
    from ..rgbd import FEATURE_STRIDE, off_part_cells, random_rotations
    from .agent import UMPNetAgent
    from .model import DIRECTION_CLASSES, UMPNetConfig, UMPNetNet

    done = checkpoint.finished_training(cfg, log)
    if done is not None:
        return done
    t0 = time.perf_counter()
    x, frame, obj, tgt, hold = load_interactions(cfg)
    cls = torch.from_numpy(direction_classes(frame))
    counts = {c: int((cls == k).sum()) for k, c in enumerate(DIRECTION_CLASSES)}
    log(f"data: {len(frame)} interactions {counts} from {cfg.data}"
        + (f" and {cfg.exploration_data}" if cfg.exploration_data else " (no exploration data)"))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 0x0B9E])
    net = UMPNetNet(UMPNetConfig(cfg.image_size, cfg.width, cfg.directions))
    G = cfg.image_size // FEATURE_STRIDE
    px = torch.from_numpy(np.minimum((pixel_targets(frame) * G).astype(np.int64), G - 1))
    pull = -torch.from_numpy(np.stack(frame["up_cam"].to_numpy()).astype(np.float32))
    moved = (cls != DIRECTION_CLASSES.index("no_motion")).float()
    off, _ = off_part_cells(obj, tgt)
    train_idx = np.flatnonzero(~hold)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bce, ce = torch.nn.functional.binary_cross_entropy_with_logits, torch.nn.functional.cross_entropy
    hist = []
    bar = progress_bar(range(cfg.epochs), desc="umpnet", disable=not cfg.progress)
    for _ in bar:
        order = rng.permutation(train_idx)
        for s in range(0, len(order), cfg.batch_size):
            j = order[s: s + cfg.batch_size]
            feats = net.features(x[j])
            f = net.at(feats, px[j, 0], px[j, 1], torch.arange(len(j)))
            fb, db, cb = [f], [pull[j]], [cls[j]]
            for k, i in enumerate(j):
                if cfg.pixels_per_image and len(off[i]):
                    p = off[i][rng.integers(len(off[i]), size=cfg.pixels_per_image)]
                    fb.append(feats[k, :, p[:, 0], p[:, 1]].T)
                    db.append(-random_rotations(len(p), rng)[:, :, 2])
                    cb.append(torch.zeros(len(p), dtype=torch.long))
            fb, db, cb = torch.cat(fb), torch.cat(db), torch.cat(cb)
            dir_loss = ce(net.direction_logits(fb, db), cb)
            pos_loss = bce(net.position(fb).squeeze(-1), (cb != 0).float())
            loss = dir_loss + pos_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hist.append([float(dir_loss.detach()), float(pos_loss.detach())])
        m = np.mean(hist[-20:], 0)
        bar.set_postfix(direction=f"{m[0]:.3f}", position=f"{m[1]:.3f}")
    net.eval()
    record = {"config": cfg.to_dict(), "data_manifest": dataset_summary(cfg.data),
              "exploration_manifest": dataset_summary(cfg.exploration_data) if cfg.exploration_data else None,
              "interactions": int(len(frame)), "classes": counts, "wall_s": round(time.perf_counter() - t0, 1),
              "final_losses": dict(zip(("direction", "position"), np.round(np.mean(hist[-20:], 0), 4).tolist()))}
    val = np.flatnonzero(hold)
    if len(val):
        with torch.no_grad():
            v = torch.from_numpy(val)
            f = net.at(net.features(x[v]), px[v, 0], px[v, 1], torch.arange(len(v)))
            pred = net.direction_logits(f, pull[v]).argmax(-1)
            record["val_direction_accuracy"] = round(float((pred == cls[v]).float().mean()), 4)
            record["val_majority_accuracy"] = round(float((cls[v] == cls[train_idx].mode().values).float().mean()), 4)
            record["val_position_accuracy"] = round(float(((net.position(f).squeeze(-1) > 0).float()
                                                           == moved[v]).float().mean()), 4)
    log(f"umpnet: {record['wall_s']} s; losses {record['final_losses']}; val direction accuracy "
        f"{record.get('val_direction_accuracy')} (majority class {record.get('val_majority_accuracy')})")
    checkpoint.save(UMPNetAgent(net=net), cfg.out, training=record)
    return {"stages": {"train": record}}

