"""The Where2Act baseline as an Agent: the most actionable object pixel, then the best-scored of K
proposed gripper rotations there."""
from __future__ import annotations

import numpy as np
import torch

from ...base import ACTION_DIM, item_seeds
from ..learned import LearnedBaseline
from ..rgbd import batch_features, object_cells
from .model import Where2ActConfig, Where2ActNet


class Where2ActAgent(LearnedBaseline):
    name = "where2act"
    network = Where2ActNet
    config_class = Where2ActConfig

    @torch.no_grad()
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        out = np.full((len(observations), ACTION_DIM), np.nan)
        feats, G = batch_features(self.model, observations, self.device)
        act = self.model.action_logits(feats)
        for i, (obs, seed) in enumerate(zip(observations, item_seeds(seeds, len(observations)))):
            rows, cols, r_s, c_s = object_cells(obs, G)  # actionability at the feature cell of every object pixel
            if not len(rows):
                continue
            k = int(torch.argmax(act[i, torch.from_numpy(r_s), torch.from_numpy(c_s)]))
            g = torch.Generator().manual_seed(int(seed) & 0x7FFFFFFF)
            f = feats[i, :, r_s[k], c_s[k]][None]
            R = self.model.propose(f, self.model.cfg.proposals, g)[0]
            best = int(torch.argmax(self.model.score(f.expand(len(R), -1), R)))
            Rb = R[best].double().cpu().numpy()
            out[i] = [rows[k], cols[k], *Rb[:, 2], *Rb[:, 0]]
        return out
