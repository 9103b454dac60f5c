"""This benchmark as a vla-eval benchmark: vla-evaluation-harness users run it against their model
servers with vla-eval's own orchestrator, without a fork of either project. In a vla-eval config:

    benchmarks:
      - benchmark: "evaluation.vla_eval_benchmark:PullBenchmark"
        params: {categories: "all", episodes: 50, seed: 0, image_size: 336}

(with this project importable: `pip install -e .` of robomamba-bench in vla-eval's environment). Each task
is one episode of evaluation.episodes' work list, so a vla-eval run meets the very episodes of
`python -m evaluation.run` with the same categories, episodes and seed; the task carries the episode's
seed (`seed`), which `agents.serve --protocol vla-eval` reads. Observations go out under the vla-eval
key map (agents.remote.keymap: `images.rgb`, `task_description`, the other entries by name); the model's
action is an (8,) vector or a (T, 8) chunk (its first row): contact pixel, approach and forward axes in
the camera frame (docs/protocol.md). An episode is one step. Its result holds `success` (the
benchmark's main criterion), `success_manipllm`, `dq` and `failure_reason`, as evaluation.run records them.
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
from vla_eval.benchmarks.base import StepBenchmark, StepResult

LVP_ICD = "/usr/share/vulkan/icd.d/lvp_icd.json"


class PullBenchmark(StepBenchmark):
    """Pull an articulated part open with one suction-gripper action; success as evaluation.run counts it."""

    render_backends: ClassVar[frozenset[str]] = frozenset({"gpu", "cpu"})

    @classmethod
    def configure_render(cls, mode: str) -> dict[str, str]:
        """SAPIEN renders on the CPU through Mesa's lavapipe (scripts/setup.sh installs it)."""
        if mode == "cpu" and os.path.exists(LVP_ICD):
            os.environ["VK_ICD_FILENAMES"] = LVP_ICD
            return {"VK_ICD_FILENAMES": LVP_ICD}
        return {}

    def __init__(self, categories: str = "all", episodes: int = 50, seed: int = 0, image_size: int = 336,
                 partnet_dir: str | None = None, physics: str = "default", keys: str | None = None) -> None:
        super().__init__()
        from agents.remote import keymap

        from .config import WorkListConfig
        from .episodes import work_items

        self.cfg = WorkListConfig(categories=categories, episodes=episodes, seed=seed, image_size=image_size,
                                  partnet_dir=partnet_dir, workers=0, physics=physics)
        self.cfg.validate()
        self.items = {it.key: it for it in work_items(seed, categories, episodes, "test", partnet_dir)}
        self.keymap = keymap.parse(keys, "vla-eval")
        self._slots = None

    def get_tasks(self) -> list[dict[str, Any]]:
        return [{"name": it.key, "suite": it.group, "category": it.category, "task": it.task, "episode": it.episode,
                 "seed": it.episode_seed} for it in self.items.values()]

    def _env(self):
        if self._slots is None:
            from .simulate import Slots

            self._slots = Slots(self.cfg.env_config(next(iter(self.items.values())).task), 1, None)
        return self._slots

    def reset(self, task: dict) -> Any:
        """The episode's observation; a reset that raised (evaluation.run records it as episode_error)
        raises, which vla-eval records as the episode's env_start failure."""
        kind, _, payload = self._env().start(0, self.items[task["name"]])
        if kind == "done":
            raise RuntimeError(payload["info"].get("failure_reason") or "episode_error")
        return payload["obs"]

    def make_obs(self, raw_obs: Any, task: dict) -> dict:
        from agents.remote.keymap import to_wire

        return to_wire(raw_obs, self.keymap)

    def step(self, action: dict) -> StepResult:
        from agents.remote.codec import ProtocolError
        from agents.remote.protocol import first_action

        try:
            a = first_action(action.get("actions") if isinstance(action, dict) else action)
        except ProtocolError as e:
            a = f"remote_malformed: {e}"
        info = self._env().finish(0, a)[2]["info"]
        return StepResult(obs=None, reward=float(bool(info.get("success"))), done=True, info=dict(info))

    def get_step_result(self, step_result: StepResult) -> dict:
        i = step_result.info
        return {"success": bool(i.get("success")), "success_manipllm": bool(i.get("success_manipllm")),
                "dq": float(i.get("dq") or 0.0), "failure_reason": str(i.get("failure_reason") or "")}

    def get_metadata(self) -> dict[str, Any]:
        return {"max_steps": 1, "action_dim": 8}

    def get_hold_action(self, last_action):
        return {"actions": np.full(8, np.nan)}  # no action: the episode fails as invalid_action

    def cleanup(self) -> None:
        if self._slots is not None:
            self._slots.close()
            self._slots = None
