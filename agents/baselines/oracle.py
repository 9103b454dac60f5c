"""Oracle: the privileged expert of docs/protocol.md section 5 without noise (affordance-sampled pixel on the
true target part, up = minus the true surface normal). The ceiling any learned agent is compared to."""
from __future__ import annotations

import numpy as np

from ..base import ACTION_DIM, Agent, item_seeds


class OracleAgent(Agent):
    name = "oracle"
    needs_privileged = True

    def __init__(self, normal_noise_deg: float = 0.0):
        self.normal_noise_deg = float(normal_noise_deg)

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        if privileged is None or len(privileged) != len(observations):
            raise ValueError("the oracle needs one privileged view per observation "
                             "(env.unwrapped.privileged())")
        out = np.full((len(observations), ACTION_DIM), np.nan)  # no view (a broken episode): no action
        for i, (view, seed) in enumerate(zip(privileged, item_seeds(seeds, len(observations)))):
            if view is not None:
                out[i] = view.expert_action(np.random.default_rng([seed, 0x0AC]), self.normal_noise_deg)
        return out
