"""The Where2Act baseline as an Agent: the most actionable object pixel, then the best-scored of K
proposed gripper rotations there."""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, Agent, item_seeds
from .model import FEATURE_STRIDE, Where2ActConfig, Where2ActNet, observation_tensor


class Where2ActAgent(Agent):
    name = "where2act"

    def __init__(self, net: Where2ActNet | None = None, config: Where2ActConfig | None = None, seed: int = 0,
                 device: str = "cpu"):
        if net is None:  # untrained (tests, or the start of training)
            torch.manual_seed(seed)
            net = Where2ActNet(config or Where2ActConfig())
        self.model = net.to(device).eval()
        self.device = device

    def _input(self, obs) -> np.ndarray:
        from ...training_data import depth_normals, resize

        S = self.model.cfg.image_size
        normals = depth_normals(obs["depth"], np.asarray(obs["intrinsics"], np.float64))
        n3 = np.stack([resize(np.ascontiguousarray(normals[..., k]), S) for k in range(3)], -1)
        return observation_tensor(resize(obs["rgb"], S), resize(obs["depth"].astype(np.float32), S), n3,
                                  resize(obs["object_mask"], S))

    @torch.no_grad()
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), ACTION_DIM), np.nan)
        S = self.model.cfg.image_size
        G = S // FEATURE_STRIDE
        x = torch.from_numpy(np.stack([self._input(o) for o in observations])).to(self.device)
        feats = self.model.features(x)
        act = self.model.action_logits(feats)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            h, w = obs["rgb"].shape[:2]
            rows, cols = np.nonzero(obs["object_mask"])
            if not len(rows):
                continue
            # actionability at every object pixel (the feature cell that contains it)
            r_s = np.minimum(((rows + 0.5) * G / h).astype(int), G - 1)
            c_s = np.minimum(((cols + 0.5) * G / w).astype(int), G - 1)
            k = int(torch.argmax(act[i, torch.from_numpy(r_s), torch.from_numpy(c_s)]))
            g = torch.Generator().manual_seed(int(seed) & 0x7FFFFFFF)
            f = feats[i, :, r_s[k], c_s[k]][None]
            R = self.model.propose(f, self.model.cfg.proposals, g)[0]
            best = int(torch.argmax(self.model.score(f.expand(len(R), -1), R)))
            Rb = R[best].double().cpu().numpy()
            out[i] = [rows[k], cols[k], *Rb[:, 2], *Rb[:, 0]]
        return out

    def parameter_counts(self) -> dict:
        n = sum(p.numel() for p in self.model.parameters())
        return {"total": n, "trainable": n}

    @classmethod
    def from_checkpoint(cls, directory, meta: dict, device: str = "cpu"):
        from ...checkpoint import load_weights

        net = Where2ActNet(Where2ActConfig(**meta["model_config"]))
        load_weights(net, directory)
        return cls(net=net, device=device)

