"""Training the FlowBot3D baseline: regression of the ground-truth articulation flow (sim_envs.joints) of
the object's points, from the joint labels every collected trial records (link map, every movable
joint). A trial's outcome does not matter here: every trial with an image is a labelled cloud.

Loss: mean squared error of the flow vectors over the object's points (the paper's). The training record
holds the paper's flow metrics on the object points of held-out instances (RMSE, mean cosine
similarity where the true flow is non-zero, magnitude error) beside those of the best constant
prediction fitted on the training flow (its mean vector).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from infra.cli import ConfigBase, check_at_least, check_choice, check_positive, option

# the main job's settings this trainer takes (evaluation.pipeline setting: flag); agents.registry
PIPELINE_FLAGS = {"flowbot3d_epochs": "--epochs"}
COLUMNS = ["task", "instance_id", "depth_png", "depth_scale", "intrinsics", "cam2world", "object_mask_png",
           "link_map_png", "joints_json"]


@dataclass
class TrainConfig(ConfigBase):
    data: str = option("data/demos", "dataset directory written by data_collection.run (format v2: joint labels)")
    out: str = option("checkpoints/flowbot3d", "checkpoint directory (written atomically)")
    agent: str = option("flowbot3d", "which agent to train")
    seed: int = option(0, "seed of initialisation, point sampling and shuffling")
    holdout: float = option(0.1, "fraction of object instances held out for the validation figures")
    points: int = option(1024, "points sampled per cloud at inference and stored per training cloud")
    train_points: int = option(256, "points per cloud in a training step (a random subset of the stored ones)")
    neighbours: int = option(8, "k of the nearest-neighbour edge layer")
    width: int = option(48, "feature width of the point network")
    epochs: int = option(8, "training epochs")
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    batch_size: int = option(16, "clouds per batch")
    progress: bool = option(True, "progress bars")

    def __post_init__(self):
        check_choice(self, "agent", ("flowbot3d",))
        check_at_least(self, points=8, train_points=8, neighbours=1, width=8, epochs=1, batch_size=1)
        check_positive(self, "lr")


def load_clouds(cfg: TrainConfig):
    """(inputs (N, P, 6), flow (N, P, 3), holdout (N,)) of every trial with an image; ValueError for a
    dataset without joint labels."""
    import pyarrow.parquet as pq

    from data_collection.dataset import decode_depth, decode_png, list_shards, load_frame, require_joint_labels
    from infra.progress import progress_bar
    from sim_envs.joints import camera_flow

    from ...training_data import is_holdout
    from .cloud import object_cloud, sample_indices
    from .model import point_features

    shards = list_shards(cfg.data)
    if not shards:
        raise FileNotFoundError(f"{cfg.data}: no shards under {cfg.data}/shards")
    require_joint_labels(cfg.data, pq.read_schema(shards[0]).names)
    df = load_frame(cfg.data, columns=COLUMNS)
    df = df[df["depth_png"].notna() & df["link_map_png"].notna()].reset_index(drop=True)
    if not len(df):
        raise ValueError(f"{cfg.data}: no trials with an image to train on")
    rng = np.random.default_rng([cfg.seed, 0xF10B])
    xs, fs = [], []
    for row in progress_bar(df.itertuples(index=False), total=len(df), desc="clouds", disable=not cfg.progress,
                            leave=False):
        depth = decode_depth(row.depth_png, row.depth_scale)
        rows, cols, pts, normals = object_cloud(depth, row.intrinsics, decode_png(row.object_mask_png))
        lm = decode_png(row.link_map_png)
        flow = camera_flow(pts, lm[rows, cols], json.loads(row.joints_json), np.asarray(row.cam2world))
        idx = sample_indices(rng, len(rows), cfg.points)
        xs.append(point_features(pts[idx], normals[idx]))
        fs.append(flow[idx].astype(np.float32))
    hold = np.array([is_holdout(t, str(k), cfg.holdout) for t, k in zip(df["task"], df["instance_id"])])
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(fs)), hold


def flow_metrics(pred: torch.Tensor, true: torch.Tensor) -> dict:
    """The paper's flow metrics over points (..., 3): RMSE, mean cosine where the true flow is non-zero,
    mean magnitude error."""
    pred, true = pred.reshape(-1, 3).double(), true.reshape(-1, 3).double()
    moving = true.norm(dim=1) > 1e-6
    cos = torch.nn.functional.cosine_similarity(pred[moving], true[moving], dim=1)
    return {"rmse": round(float(((pred - true) ** 2).sum(1).mean().sqrt()), 4),
            "cosine": round(float(cos.mean()) if moving.any() else float("nan"), 4),
            "magnitude_error": round(float((pred.norm(dim=1) - true.norm(dim=1)).abs().mean()), 4)}


def train(cfg: TrainConfig, log=print) -> dict:
    from infra.progress import progress_bar

    from ... import checkpoint
    from ...training_data import dataset_summary
    from .agent import FlowBot3DAgent
    from .model import FlowBot3DConfig, FlowBot3DNet

    done = checkpoint.finished_training(cfg, log)
    if done is not None:
        return done
    t0 = time.perf_counter()
    x, flow, hold = load_clouds(cfg)
    log(f"data: {len(x)} clouds of {x.shape[1]} points from {cfg.data} ({int(hold.sum())} held out)")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 0xF10C])
    net = FlowBot3DNet(FlowBot3DConfig(cfg.points, cfg.neighbours, cfg.width))
    train_idx, val = np.flatnonzero(~hold), np.flatnonzero(hold)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist = []
    bar = progress_bar(range(cfg.epochs), desc="flowbot3d", disable=not cfg.progress)
    for _ in bar:
        order = rng.permutation(train_idx)
        for s in range(0, len(order), cfg.batch_size):
            j = torch.from_numpy(order[s: s + cfg.batch_size])
            sub = torch.from_numpy(np.sort(rng.choice(x.shape[1], size=min(cfg.train_points, x.shape[1]),
                                                      replace=False)))
            loss = ((net(x[j][:, sub]) - flow[j][:, sub]) ** 2).sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hist.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(hist[-20:]):.4f}")
    net.eval()
    record = {"config": cfg.to_dict(), "data_manifest": dataset_summary(cfg.data), "clouds": int(len(x)),
              "wall_s": round(time.perf_counter() - t0, 1), "final_loss": round(float(np.mean(hist[-20:])), 4)}
    if len(val):
        with torch.no_grad():
            pred = torch.cat([net(x[torch.from_numpy(val[s: s + 32])]) for s in range(0, len(val), 32)])
        constant = flow[torch.from_numpy(train_idx)].reshape(-1, 3).mean(0)
        record["val_flow"] = flow_metrics(pred, flow[val])
        record["val_constant"] = flow_metrics(constant.expand_as(flow[val]), flow[val])
    log(f"flowbot3d: {record['wall_s']} s; loss {record['final_loss']}; held-out flow {record.get('val_flow')} "
        f"(constant: {record.get('val_constant')})")
    checkpoint.save(FlowBot3DAgent(net=net), cfg.out, training=record)
    return {"stages": {"train": record}}
