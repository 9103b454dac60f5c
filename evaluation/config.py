"""Evaluation settings as one dataclass; `python -m evaluation.run` takes its flags from it."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from agents.remote.keymap import PROTOCOLS
from infra.cli import ConfigBase, ConfigError, check_at_least, option
from infra.executors import check_executor, executor_option, ray_address_option
from sim_envs.cli import categories_option, check_partnet_dir, check_split, partnet_option, split_option


@dataclass
class WorkListConfig(ConfigBase):
    """The settings of a command that runs a work list (evaluation.episodes) in simulation workers:
    evaluation.run and evaluation.ceiling share them, so the same flags give the same episodes."""

    categories: str = categories_option("all", "'all' (20 seen + 10 unseen), 'seen', 'unseen', a comma-separated "
                                               "list of categories or aliases, or 'list' to print the names and exit")
    episodes: int = option(50, "episodes per category (paper: ~1.1K test episodes over 30 categories)")
    seed: int = option(0, "master seed of the work list (the same episodes for every agent: paired comparison)")
    image_size: int = option(336, "rendered square image side, pixels")
    partnet_dir: str | None = partnet_option()
    workers: int = option(min(2, os.cpu_count() or 1), "simulation worker processes (0 = simulate in this process); "
                                                       "with --executor ray, simulation actors")
    executor: str = executor_option()
    ray_address: str | None = ray_address_option()
    quiet: bool = option(False, "no progress bar")
    physics: str = option("default", "physics settings: 'default', 'legacy' (before the reference values: no "
                                     "object gravity, soft suction, no approach check, unpulled motion counted) "
                                     "or 'reference' (the reference code's 500 Hz, 4 s schedule)",
                          choices=("default", "legacy", "reference"))
    env: tuple[str, ...] = option((), "environment settings on top of --physics, FIELD=VALUE each "
                                      "(sim_envs.config.PullEnvConfig fields, e.g. object_gravity=false "
                                      "suction_stiffness=2000)")
    split: str = split_option("test", cli=False)

    def validate(self) -> None:
        """ConfigError naming the first bad field."""
        check_at_least(self, episodes=1, workers=0, image_size=16)
        check_split(self)
        check_partnet_dir(self)
        check_executor(self)
        from sim_envs.config import env_overrides

        try:
            env_overrides(self.physics, self.env)
        except ValueError as e:
            raise ConfigError("env", " ".join(self.env), str(e)) from None

    def env_config(self, first_task: str):
        """The environment the workers simulate the list in."""
        from sim_envs.config import PullEnvConfig, env_overrides

        partnet_dir = self.partnet_dir
        if partnet_dir and self.executor == "ray":  # actors may start in another directory
            partnet_dir = os.path.abspath(partnet_dir)
        return PullEnvConfig(task=first_task, split=self.split, image_size=self.image_size,
                             partnet_dir=partnet_dir, **env_overrides(self.physics, self.env))


@dataclass
class EvalConfig(WorkListConfig):
    agent: str = option("robomamba", "agent name; 'list' prints the available agents and exits")
    checkpoint: str | None = option(None, "checkpoint directory (model.safetensors, config.json, tokenizer.json) "
                                             "of a learned agent; None = the main job's (out/pipeline/checkpoints/"
                                             "AGENT) if it exists")
    untrained: bool = option(False, "evaluate a learned agent without a checkpoint, on untrained weights")
    shard: str = option("0/1", "'i/n': run only every n-th item of the list starting at i (split a run over n "
                               "machines; give each its own --out and merge them with evaluation.tables)")
    envs_per_worker: int = option(1, "environments per worker process: episodes each process keeps in flight")
    batch_size: int = option(16, "most observations per agent act() call (batches are whatever is waiting, "
                                 "up to this)")
    out: str | None = option(None, "output directory, None = out/eval/LABEL; rerun the same command to resume")
    label: str | None = option(None, "method name in the tables, None = the agent name")
    record: int = option(0, "save a rollout video (MP4; GIF without an encoder) and an annotated still of the "
                            "first N episodes of the list in OUT/record")
    device: str = option("cpu", "torch device of a learned agent (cpu, cuda, cuda:1)")
    agent_threads: int = option(0, "torch threads of the agent in this process; 0 = the cores the local simulation "
                                   "workers leave free, at least 1 (more threads than free cores make every "
                                   "act() wait for the simulation: bench/README.md)")
    ray_agent: str = option("auto", "--executor ray: where the agent runs: 'driver' (this process), 'actor' (a Ray "
                                    "actor, with a GPU when the cluster has one) or 'auto' (an actor on a GPU if the "
                                    "cluster has one, else the driver)", choices=("auto", "driver", "actor"))
    policy_url: str | None = option(None, "--agent remote: the policy server's address, ws://HOST:PORT "
                                             "(python -m agents.serve; protocol in docs/remote_policy.md)")
    policy_timeout: float = option(60.0, "--agent remote: seconds to wait for a batch's actions before its "
                                         "episodes fail as remote_timeout")
    policy_protocol: str = option("robomamba", "--agent remote: the server's protocol: this project's own "
                                               "(robomamba, python -m agents.serve), openpi's or vla-eval's",
                                  choices=PROTOCOLS)
    policy_connections: int = option(8, "--agent remote, openpi/vla-eval (one observation per request): connections "
                                        "a batch is spread over, whose requests the server may answer together "
                                        "(agents.serve does); this project's protocol sends a batch per request")
    policy_keys: str | None = option(None, "--agent remote, openpi/vla-eval: wire names of the observation entries "
                                           "sent, WIRE=ENTRY,... (None: the protocol's default, docs/remote_policy.md)")

    # settings that change what an episode produces: an output directory holds one combination
    IDENTITY = ("agent", "checkpoint", "categories", "episodes", "seed", "shard", "image_size",
                "partnet_dir", "split", "physics", "env", "policy_url")

    def __post_init__(self):
        if self.label is None:
            self.label = self.agent
        if self.out is None:
            self.out = os.path.join("out", "eval", self.label)
        if self.checkpoint is not None:
            self.checkpoint = os.path.abspath(self.checkpoint)
        self.validate()

    def validate(self) -> None:
        """ConfigError naming the first bad field."""
        super().validate()
        check_at_least(self, envs_per_worker=1, batch_size=1, record=0, policy_connections=1, agent_threads=0)
        if self.policy_timeout <= 0:
            raise ConfigError("policy_timeout", self.policy_timeout, "must be > 0 seconds")
        remote = self.agent.strip().lower() == "remote"
        if remote and not self.policy_url:
            raise ConfigError("policy_url", self.policy_url, "--agent remote needs the server's address, e.g. "
                                                             "ws://localhost:8765")
        if self.policy_url and not remote:
            raise ConfigError("policy_url", self.policy_url, "only --agent remote takes a policy server")
        if self.policy_url and not re.fullmatch(r"wss?://[^\s/]+(:\d+)?(/\S*)?", self.policy_url):
            raise ConfigError("policy_url", self.policy_url, "must be ws://HOST:PORT or wss://HOST:PORT")
        if not remote and (self.policy_protocol != "robomamba" or self.policy_keys is not None):
            raise ConfigError("policy_protocol" if self.policy_keys is None else "policy_keys",
                              self.policy_keys or self.policy_protocol, "only --agent remote talks to a policy server")
        self.policy_keymap()
        self.shard_index()

    def torch_threads(self) -> int:
        """--agent-threads, or (0) the cores the local simulation workers leave free, at least 1."""
        if self.agent_threads:
            return self.agent_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        local = self.workers if self.executor == "local" else 0
        return max(1, cores - local)

    def policy_keymap(self) -> dict:
        """{wire name: entry} of --policy-keys for --policy-protocol ({} for this project's protocol)."""
        from agents.remote.keymap import parse

        try:
            return parse(self.policy_keys, self.policy_protocol)
        except ValueError as e:
            raise ConfigError("policy_keys", self.policy_keys, str(e)) from None

    def shard_index(self) -> tuple[int, int]:
        """(i, n) of `shard`; ConfigError unless 0 <= i < n."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(self.shard))
        if not m or not int(m[1]) < int(m[2]):
            raise ConfigError("shard", self.shard, "must be 'i/n' with 0 <= i < n, e.g. 0/4")
        return int(m[1]), int(m[2])
