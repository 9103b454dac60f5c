"""Training the Where2Act baseline on successes and failures of a collected dataset.

Every collected trial (`--keep-failures` datasets hold both) is a labelled interaction: pixel,
gripper rotation, success (the data-collection filter). Pixels on the object but off the target
part are added as failures with random directions (pulling the fixed body or another part cannot
move the target joint). Each step trains, on a batch of images:
  critic        BCE on the interactions;
  proposal      best-of-K geodesic loss towards the successful rotations;
  actionability BCE towards the critic's mean success probability over K proposals at sampled
                pixels (targets detached, as in the paper).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, check_positive, option

from ...rotation import geodesic_angle

# the main job's budget settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"where2act_epochs": "--epochs"}

@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run (collect with "
                                     "--keep-failures: Where2Act learns from failures too)")
    out: str = option("checkpoints/where2act", "checkpoint directory (written atomically)")
    agent: str = option("where2act", "which agent to train")
    seed: int = option(0, "seed of initialisation, sampling and shuffling")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    image_size: int = option(112, "network input side, pixels (images are resized)")
    width: int = option(32, "feature channels of the network (a multiple of 8)")
    proposals: int = option(32, "directions proposed per pixel at inference / for actionability targets")
    epochs: int = option(12, "training epochs")
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    batch_size: int = option(16, "batch size (images)")
    pixels_per_image: int = option(16, "pixels per image used for the off-part negatives and actionability targets")
    init: str | None = option(None, "start from this checkpoint instead of a fresh model")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_choice(self, "agent", ("where2act",))
        check_at_least(self, image_size=1, width=8, proposals=1, epochs=1, batch_size=1, pixels_per_image=1)
        if self.width % 8:
            raise ConfigError("width", self.width, "must be a multiple of 8")
        check_positive(self, "lr")


def train(cfg: TrainConfig, log=print) -> dict:
    from infra.progress import progress_bar

    from ... import checkpoint
    from ...factory import load as load_agent
    from ...training_data import dataset_summary, load, pixel_targets, rotation_targets
    from ..rgbd import FEATURE_STRIDE, dataset_inputs, off_part_cells, random_rotations
    from .agent import Where2ActAgent
    from .model import Where2ActConfig, Where2ActNet

    done = checkpoint.finished_training(cfg, log)
    if done is not None:
        return done
    t0 = time.perf_counter()
    data = load(cfg.data, cfg.image_size, successes_only=False, holdout_fraction=cfg.holdout, with_masks=True,
                progress=cfg.progress)
    ok = data.frame["demo_success"].to_numpy().astype(bool)
    log(f"data: {len(data)} interactions ({int(ok.sum())} successes, {int((~ok).sum())} failures) from {cfg.data}")
    if ok.all():
        log("note: no failed trials in this dataset (collect with --keep-failures); the critic learns failures "
            "from off-part pixels only")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 0x2A])
    net = Where2ActNet(Where2ActConfig(cfg.image_size, cfg.width, proposals=cfg.proposals))
    if cfg.init:
        net.load_state_dict(load_agent(cfg.init, agent="where2act").model.state_dict())
    x = dataset_inputs(data)
    G = cfg.image_size // FEATURE_STRIDE  # the feature grid
    px = torch.from_numpy(np.minimum((pixel_targets(data.frame) * G).astype(np.int64), G - 1))
    rot = torch.from_numpy(rotation_targets(data.frame))
    label = torch.from_numpy(ok.astype(np.float32))
    off, onobj = off_part_cells(data.object_mask, data.target_mask)
    train_idx = np.flatnonzero(~data.holdout)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    gen = torch.Generator().manual_seed(cfg.seed)
    hist = []
    bar = progress_bar(range(cfg.epochs), desc="where2act", disable=not cfg.progress)
    for _ in bar:
        order = rng.permutation(train_idx)
        for s in range(0, len(order), cfg.batch_size):
            j = order[s: s + cfg.batch_size]
            feats = net.features(x[j])
            b = torch.arange(len(j))
            f = net.at(feats, px[j, 0], px[j, 1], b)
            # critic: the recorded interactions + off-part pixels as failures
            fb, rb, lb = [f], [rot[j]], [label[j]]
            for k, i in enumerate(j):
                if len(off[i]):
                    p = off[i][rng.integers(len(off[i]), size=cfg.pixels_per_image // 4 or 1)]
                    fb.append(feats[k, :, p[:, 0], p[:, 1]].T)
                    rb.append(random_rotations(len(p), rng))
                    lb.append(torch.zeros(len(p)))
            critic_loss = bce(net.score(torch.cat(fb), torch.cat(rb)), torch.cat(lb))
            # proposal: best of K towards successful rotations
            okj = label[j] > 0.5
            prop_loss = torch.zeros(())
            if okj.any():
                R = net.propose(f[okj], 8, gen)
                prop_loss = geodesic_angle(R, rot[j][okj].unsqueeze(1).expand_as(R)).min(1).values.mean()
            # actionability towards the critic's mean score of K proposals at sampled object pixels
            rows, cols, bi = [], [], []
            for k, i in enumerate(j):
                p = onobj[i][rng.integers(len(onobj[i]), size=cfg.pixels_per_image)]
                rows.append(p[:, 0])
                cols.append(p[:, 1])
                bi.append(np.full(len(p), k))
            rows, cols, bi = (torch.from_numpy(np.concatenate(a)) for a in (rows, cols, bi))
            fa = feats[bi, :, rows, cols]
            with torch.no_grad():
                Rp = net.propose(fa, 8, gen)
                target = torch.sigmoid(net.score(fa.unsqueeze(1).expand(-1, 8, -1).reshape(-1, fa.shape[1]),
                                                 Rp.reshape(-1, 3, 3))).view(-1, 8).mean(1)
            act_loss = bce(net.actionability(fa).squeeze(-1), target)
            loss = critic_loss + prop_loss + act_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hist.append([float(critic_loss.detach()), float(prop_loss.detach()), float(act_loss.detach())])
        m = np.mean(hist[-20:], 0)
        bar.set_postfix(critic=f"{m[0]:.3f}", proposal=f"{m[1]:.3f}", act=f"{m[2]:.3f}")
    net.eval()
    val = np.flatnonzero(data.holdout)
    record = {"config": cfg.to_dict(), "data_manifest": dataset_summary(cfg.data),
              "interactions": int(len(data)), "successes": int(ok.sum()),
              "wall_s": round(time.perf_counter() - t0, 1),
              "final_losses": dict(zip(("critic", "proposal", "actionability"),
                                       np.round(np.mean(hist[-20:], 0), 4).tolist()))}
    if len(val):
        with torch.no_grad():
            v = torch.from_numpy(val)
            f = net.at(net.features(x[v]), px[v, 0], px[v, 1], torch.arange(len(v)))
            pred = torch.sigmoid(net.score(f, rot[v])) > 0.5
            record["val_critic_accuracy"] = round(float((pred.float() == label[v]).float().mean()), 4)
    log(f"where2act: {record['wall_s']} s; losses {record['final_losses']}; val critic accuracy "
        f"{record.get('val_critic_accuracy')}")
    agent = Where2ActAgent(net=net)
    checkpoint.save(agent, cfg.out, training=record)
    return {"stages": {"train": record}}
