"""Collection settings as one dataclass; `python -m data_collection.run` takes its flags from it."""
from __future__ import annotations

import os
from dataclasses import dataclass

from infra.cli import ConfigBase, ConfigError, check_at_least, check_choice, option
from infra.executors import check_executor, executor_option, ray_address_option
from sim_envs.cli import categories_option, check_partnet_dir, check_split, partnet_option, split_option


@dataclass
class CollectConfig(ConfigBase):
    categories: str = categories_option("drawer", "a category or alias, a comma-separated list, 'all-seen' (the "
                                        "20 training categories), 'all-unseen', 'all', or 'list' to print the "
                                        "names and exit", flag="--category")
    samples: int = option(500, "successful demos to collect per category (paper: ~10K over the 20 seen categories)")
    split: str = split_option("train")
    seed: int = option(0, "master seed: trial k of category t has a seed derived from (seed, t, k); the same seed "
                          "gives the same dataset whatever the worker count")
    workers: int = option(min(2, os.cpu_count() or 1), "simulation worker processes (0 = run in this process); with "
                                                       "--executor ray, simulation actors")
    executor: str = executor_option()
    ray_address: str | None = ray_address_option()
    out: str = option("data/demos", "dataset directory (created; rerun the same command to resume)")
    image_size: int = option(336, "rendered square image side, pixels")
    normal_noise_deg: float = option(10.0, "std of the Gaussian noise on each component of up = -normal, degrees")
    keep_failures: bool = option(False, "also store failed trials, flagged demo_success=False (for Where2Act-style "
                                        "training)")
    directions: str = option("expert", "approach directions of the trials: 'expert' (-true normal + noise, the "
                                       "protocol's demos) or 'hemisphere' (uniform over the hemisphere into the "
                                       "surface: exploration data for UMPNet; needs --keep-failures)",
                             choices=("expert", "hemisphere"))
    block_size: int = option(32, "trials per shard: the unit of work and of resumption")
    max_trials: int | None = option(None, "give up on a category after this many trials; None = 20 x samples + 200")
    partnet_dir: str | None = partnet_option()
    allow_short: bool = option(False, "exit 0 (not 1) when a category gives up after --max-trials short of "
                                      "--samples; the warning stays and the manifest records each category's "
                                      "demos (the main job sets it on a PartNet directory, where one pull cannot "
                                      "open some real objects)")
    quiet: bool = option(False, "no progress bars")
    # the demo filter (docs/protocol.md, data collection)
    keep_dq: float = option(0.1, "demo filter: |dq| above this (m or rad) ...")
    keep_range_fraction: float = option(0.5, "demo filter: ... or above this fraction of the joint range ...")
    keep_cosine: float = option(0.5, "demo filter: ... and the touched point moved along the pull (cosine above this)")

    # settings that change what a trial produces: a dataset directory holds one combination
    IDENTITY = ("seed", "split", "image_size", "normal_noise_deg", "keep_failures", "directions", "block_size",
                "partnet_dir", "keep_dq", "keep_range_fraction", "keep_cosine")

    def __post_init__(self):
        self.validate()

    def identity(self) -> dict:
        """IDENTITY's fields and the environment's physics (sim_envs.config.PullEnvConfig), as JSON
        stores them: a dataset collected under other physics is another dataset."""
        import json

        from sim_envs.config import PullEnvConfig

        physics = {k: v for k, v in PullEnvConfig().to_dict().items()
                   if k not in ("task", "split", "image_size", "partnet_dir")}
        ident = {**super().identity(), "physics": json.loads(json.dumps(physics))}
        if self.partnet_dir:  # the objects a PartNet directory's broken folders removed
            from sim_envs.partnet import skipped

            ident["partnet_skipped"] = sorted(skipped(str(self.partnet_dir)))
        return ident

    def validate(self) -> None:
        """ConfigError naming the bad field, its value and what is allowed."""
        check_at_least(self, samples=1, block_size=1, workers=0, image_size=16)
        if self.max_trials is not None:
            check_at_least(self, max_trials=1)
        check_split(self)
        check_partnet_dir(self)
        check_choice(self, "directions", ("expert", "hemisphere"))
        if self.directions == "hemisphere" and not self.keep_failures:
            raise ConfigError("directions", self.directions,
                              "explores, so its failures are the data: add --keep-failures")
        check_executor(self)
        if not 0 <= self.normal_noise_deg <= 90:
            raise ConfigError("normal_noise_deg", self.normal_noise_deg, "must be in [0, 90]")
        if not -1 <= self.keep_cosine <= 1:
            raise ConfigError("keep_cosine", self.keep_cosine, "must be in [-1, 1]")

    @property
    def trial_limit(self) -> int:
        return self.max_trials if self.max_trials is not None else 20 * self.samples + 200
