"""The privileged experts (docs/protocol.md section 5), as agents.

- `oracle`: the motion-aware expert (`PrivilegedView.expert_action`): a pixel of the true target part
  whose pull along its outward normal moves the part the way its joint has room to go, approached where
  the gripper fits. The ceiling any learned agent is compared to.
- `reference_expert`: the reference protocol's action (`PrivilegedView.reference_action`: affordance-
  sampled pixel, minus the true surface normal), which data collection samples. Run beside `oracle` on
  the same episodes it measures what the motion-aware expert changes.
"""
from __future__ import annotations

import numpy as np

from ..base import ACTION_DIM, Agent, item_seeds


class OracleAgent(Agent):
    name = "oracle"
    needs_privileged = True
    method = "expert_action"  # the PrivilegedView method that chooses the action

    def __init__(self, normal_noise_deg: float = 0.0):
        self.normal_noise_deg = float(normal_noise_deg)

    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        if privileged is None or len(privileged) != len(observations):
            raise ValueError(f"the {self.name} agent needs one privileged view per observation "
                             "(env.unwrapped.privileged())")
        out = np.full((len(observations), ACTION_DIM), np.nan)  # no view (a broken episode): no action
        for i, (view, seed) in enumerate(zip(privileged, item_seeds(seeds, len(observations)))):
            if view is not None:
                choose = getattr(view, self.method)
                out[i] = choose(np.random.default_rng([seed, 0x0AC]), self.normal_noise_deg)
        return out


class ReferenceExpertAgent(OracleAgent):
    name = "reference_expert"
    method = "reference_action"
