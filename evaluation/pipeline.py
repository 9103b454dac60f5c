"""The whole benchmark on the built-in procedural objects (or a PartNet-Mobility directory), end to end:
collect -> train -> evaluate -> tables.

    python -m evaluation.pipeline                          # the README's main job (~88 min on 2 CPU cores)
    python -m evaluation.pipeline --partnet-dir DIR --out out/partnet   # the same on real objects
    python -m evaluation.pipeline --train-seeds 1 --episodes 30     # a quicker one (~33 min on 2 cores)
    python -m evaluation.pipeline --samples 500 --qa-steps 4000      # the full-size benchmark

1. collect demos (successes and failures) on the train instances of the 20 seen categories;
2. train every trainable agent of --agents (agents.registry: robomamba and its Transformer twin,
   sim-QA co-training then the policy head alone; the Where2Act, UMPNet and FlowBot3D baselines; the
   vision-language baselines ManipLLM and RoboFlamingo; a plugin's trainable agent), each with
   --train-seeds seeds (one trained model is one draw), with the budget settings below that its trainer
   takes (its PIPELINE_FLAGS) and the extra datasets it asks for (its PIPELINE_DATA: UMPNet's exploration
   collection, --explore-samples, is collected only then); an agent that builds on another (its
   PIPELINE_BASE: ManipLLM and RoboFlamingo on the twin) gets that agent's checkpoint of the same training
   seed, trained first (also where --agents does not name it); each training with one torch thread
   (--train-threads: the models do not depend on the machine's core count), one per core at a time
   (--train-jobs; two on 2 cores);
3. search the ceiling of the work list (evaluation.ceiling);
4. evaluate every agent (every training seed) on the same episodes of the test instances of all 30
   categories (or of --categories; demos are then collected on the seen ones among them); where the
   simulation workers leave the agent one thread (2 cores, 2 workers), two evaluations at a time, each with
   one worker and the agent's one thread (--eval-jobs: the same records; measured, the evaluations 10% faster,
   ManipLLM's 30%);
5. write the tables (paper layout beside the published rows, summary with Wilson intervals and the
   success on solvable episodes, paired comparisons of every pair, the spread over training seeds,
   speed), the plot, and every run's records (gzipped) beside them;
6. render the observation of every episode, film the first --film episodes of each category for each
   method (its first training seed; evaluation.film), and write the HTML report (evaluation.report):
   TABLES/report/index.html.

With --partnet-dir, every step reads the objects of that directory (its reference train/test lists, the
hash split elsewhere; broken folders skipped with one line each): demos on the train objects of its seen
categories, evaluation on the test objects; with --categories all, the categories it holds test objects
of (a line names the others). A seen category whose objects one pull rarely opens gives fewer demos than
--samples (collection's --allow-short: a warning names it) instead of stopping the job.

Every step is the project's own CLI with its flags (printed as it runs), so any step can be rerun
alone. Each one resumes, so rerunning this command after an interruption continues where it stopped.
Steps run at once (--eval-jobs, --train-jobs) run in processes of their own, each writing OUT/logs/STEP.log.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass

from infra.cli import ConfigBase, ConfigError, check_at_least, option, parse_config
from infra.executors import check_executor, executor_option, ray_address_option
from sim_envs.cli import check_partnet_dir, partnet_option

from .steps import STEP_SECONDS, Step, checkpoint_dir, label, run_steps, step  # noqa: F401  (their home; callers import them here too)

MAX_TRAIN_JOBS = 4  # --train-jobs 0's cap: each training holds its dataset in memory


@dataclass
class PipelineConfig(ConfigBase):
    out: str = option("out/pipeline", "working directory: data, checkpoints, evaluation runs and tables go below it")
    seed: int = option(0, "master seed of collection, training and the evaluation work list")
    workers: int = option(min(2, os.cpu_count() or 1), "simulation worker processes for collection and evaluation "
                                                       "(0 = in this process); with --executor ray, simulation actors")
    executor: str = executor_option()
    ray_address: str | None = ray_address_option()
    samples: int = option(60, "successful demos per seen category (paper: ~500)")
    episodes: int = option(50, "evaluation episodes per category, 30 categories (evaluation default: 50)")
    categories: str = option("all", "evaluation categories: all, seen, unseen or a comma list; demos are collected "
                                    "on the seen ones among them")
    image_size: int = option(336, "rendered square image side, pixels, of collection and evaluation")
    partnet_dir: str | None = partnet_option("a PartNet-Mobility directory to run on instead of the procedural "
                                             "objects: demos on its seen categories' train objects, evaluation on "
                                             "the test objects (with --categories all: of the categories it holds)")
    agents: str = option("robomamba,transformer,where2act,umpnet,flowbot3d,manipllm,roboflamingo,random,chance,oracle",
                         "comma-separated agents to train (if learned) and evaluate")
    qa_steps: int = option(800, "sim-QA co-training steps of robomamba / transformer")
    head_epochs: int = option(8, "policy-head fine-tuning epochs (paper: 8)")
    where2act_epochs: int = option(6, "Where2Act training epochs")
    umpnet_epochs: int = option(6, "UMPNet training epochs")
    flowbot3d_epochs: int = option(8, "FlowBot3D training epochs")
    manipllm_steps: int = option(1600, "ManipLLM training steps (its adapters' next-token steps)")
    explore_samples: int = option(30, "successful trials per seen category of the exploration collection (uniform "
                                      "directions over the hemisphere, failures kept) that UMPNet trains on too")
    train_seeds: int = option(3, "training seeds per learned agent (seed, seed + 1, ...; the tables give their spread)")
    train_jobs: int = option(0, "trainings run at once, each in its own process with --train-threads threads, its "
                                "output in OUT/logs; 1: one after the other in this process; 0: one per "
                                f"--train-threads cores, at most {MAX_TRAIN_JOBS} (2 on 2 cores: two 1-thread "
                                "trainings at once train about 11%% faster than one 2-thread training after another; "
                                "bench/README.md). The trained models do not depend on it; their recorded training "
                                "times do")
    train_threads: int = option(1, "torch threads of each training (0: torch's default, one per core). The trained "
                                   "weights depend on it (at the main job's budget every learned agent but "
                                   "flowbot3d's differ between 1 and 2 threads): a fixed count gives the same models "
                                   "on machines with other core counts")
    eval_jobs: int = option(0, "evaluations run at once, each in its own process with --workers / EVAL_JOBS "
                               "simulation workers (at least 1) and the agent threads it would have alone (the cores "
                               "--workers leave free, at least 1), its output in OUT/logs; 1: one after the other in "
                               "this process; 0: 2 where the workers leave the agent one thread (2 cores, 2 workers: "
                               "an evaluation alone keeps its cores busy only part of the time), else 1. The records "
                               "do not depend on it, except their timing fields (an evaluation beside another)")
    tables: str = option("", "where the tables go; '' = OUT/tables")
    film: int = option(1, "episodes per category filmed for each method (its first training seed) for the report's "
                          "episode browser (TABLES/media/videos); 0 = none")
    report: bool = option(True, "write the observation of every episode (TABLES/media/observations) and the HTML "
                                "report (TABLES/report/index.html, evaluation.report)")

    def __post_init__(self):
        from agents.registry import UnknownAgentError, resolve

        check_at_least(self, workers=0, samples=1, episodes=1, qa_steps=1, head_epochs=1, where2act_epochs=1,
                       umpnet_epochs=1, flowbot3d_epochs=1, manipllm_steps=1, explore_samples=1,
                       train_seeds=1, image_size=16, film=0, train_jobs=0, train_threads=0, eval_jobs=0)
        if self.train_jobs > 1 and not self.train_threads:
            raise ConfigError("train_jobs", self.train_jobs, "several trainings at once need --train-threads (each "
                                                             "one's torch threads; 1 on a 2-core machine)")
        if self.film > self.episodes:
            raise ConfigError("film", self.film, f"must be at most --episodes ({self.episodes})")
        check_executor(self)
        check_partnet_dir(self)
        if self.partnet_dir:
            asked, held = self._test_coverage()
            missing = [c for c in asked if c not in held]
            if not held or (missing and self.categories.strip().lower() != "all"):
                raise ConfigError("partnet_dir", self.partnet_dir, f"holds no test object of {', '.join(missing)} "
                                                                   f"(--categories {self.categories})")
        names = [a.strip() for a in self.agents.split(",") if a.strip()]
        if not names:
            raise ConfigError("agents", self.agents, "name at least one agent")
        for a in names:
            try:
                resolve(a)
            except UnknownAgentError as e:
                raise ConfigError("agents", self.agents, str(e)) from None
        if (self.categories.strip().lower() != "all" or self.partnet_dir) and self.collect_categories() == "":
            from agents.registry import trainable

            if any(resolve(a) in trainable() for a in names):
                where = f" with train objects in {self.partnet_dir}" if self.partnet_dir else ""
                raise ConfigError("categories", self.categories, f"no seen category among them{where} to collect "
                                                                 "demos on for the learned agents")

    def _agent_threads_alone(self) -> int:
        """The torch threads an evaluation alone gives the agent (evaluation.config's default)."""
        from .config import EvalConfig

        return EvalConfig(workers=self.workers, executor=self.executor).torch_threads()

    def trainings_at_once(self) -> int:
        """--train-jobs, or (0) one per --train-threads cores, at most MAX_TRAIN_JOBS (1 where --train-threads is 0:
        a training with every core)."""
        if self.train_jobs:
            return self.train_jobs
        if not self.train_threads:
            return 1
        return max(1, min(MAX_TRAIN_JOBS, (os.cpu_count() or 1) // self.train_threads))

    def evaluations_at_once(self) -> int:
        """--eval-jobs, or (0) 2 where the local workers leave the agent one thread, else 1."""
        if self.eval_jobs:
            return self.eval_jobs
        return 2 if self.executor == "local" and self.workers >= 2 and self._agent_threads_alone() == 1 else 1

    def eval_share(self) -> tuple[int, int]:
        """(workers, agent threads) of one of several evaluations at once: its share of --workers (at least 1),
        and the agent threads an evaluation alone would have, so that its actions are the same."""
        return (max(1, self.workers // self.evaluations_at_once()) if self.workers else 0,
                self._agent_threads_alone())

    def _categories(self, spec: str, split: str) -> list[str]:
        from .episodes import WorkListError, categories_with_objects

        try:
            return categories_with_objects(spec, split, self.partnet_dir)
        except WorkListError as e:
            raise ConfigError("categories", self.categories, str(e)) from None

    def eval_categories(self) -> str:
        """The evaluation's --categories: as given, except that 'all' on a PartNet directory means the
        categories it holds test objects of."""
        from .episodes import evaluation_categories

        return evaluation_categories(self.categories, self.partnet_dir)

    def collect_categories(self) -> str:
        """The categories demos are collected on: 'all-seen', or the seen ones of --categories (on a PartNet
        directory, those it holds train objects of)."""
        if self.categories.strip().lower() == "all" and not self.partnet_dir:
            return "all-seen"
        from sim_envs.categories import resolve

        return ",".join(c for c in self._categories(self.categories, "train") if resolve(c).seen)

    def _test_coverage(self) -> tuple[list[str], list[str]]:
        """(the categories --categories names, those of them the PartNet directory holds test objects of)."""
        from .episodes import resolve_tasks, task_name

        held = self._categories(self.categories, "test")  # first: a bad --categories is a ConfigError
        return [task_name(t) for t in resolve_tasks(self.categories)], held

    def describe_partnet(self) -> str:
        """One line: which categories of --categories the PartNet directory serves, and which it does not."""
        asked, held = self._test_coverage()
        missing = [c for c in asked if c not in held]
        collected = self.collect_categories()
        return (f"pipeline: --partnet-dir {self.partnet_dir}: evaluation on the test objects of {len(held)} of "
                f"{len(asked)} categories" + (f" (none of {', '.join(missing)})" if missing else "") +
                f"; demos on the train objects of {len(collected.split(',')) if collected else 0} seen categories")


def train_flags(cfg: PipelineConfig, module) -> list[str]:
    """The main job's budget settings a trainer module takes (its PIPELINE_FLAGS), as its flags."""
    return [x for name, flag in getattr(module, "PIPELINE_FLAGS", {}).items() for x in (flag, str(getattr(cfg, name)))]


def train_data(module, data: dict[str, str]) -> list[str]:
    """The extra datasets a trainer module takes (its PIPELINE_DATA: {dataset: its flag}), as its flags."""
    return [x for name, flag in getattr(module, "PIPELINE_DATA", {}).items() for x in (flag, data[name])]


def base_agent(module) -> str | None:
    """The trained agent a trainer module builds on (its PIPELINE_BASE: (agent, flag)), or None."""
    base = getattr(module, "PIPELINE_BASE", None)
    return base[0] if base else None


def train_base(module, out: str, k: int) -> list[str]:
    """The flag that hands a trainer its base agent's checkpoint of the same training seed (PIPELINE_BASE)."""
    base = getattr(module, "PIPELINE_BASE", None)
    return [base[1], checkpoint_dir(out, base[0], k)] if base else []


def training_order(models: list[tuple], learned: set) -> list[tuple]:
    """The (agent, seed) pairs to train: each trainable model of `models`, after the base it builds on
    (PIPELINE_BASE; ManipLLM's Transformer twin), which is trained too where --agents does not name it."""
    from agents.registry import trainer

    order: list[tuple] = []
    for a, k in models:
        if a not in learned:
            continue
        base = base_agent(trainer(a)[1])
        if base is not None and (base, k) not in order:
            order.append((base, k))
        if (a, k) not in order:
            order.append((a, k))
    return order


def main(argv=None) -> int:
    from infra.files import atomic_write_text

    cfg, _ = parse_config(PipelineConfig, argv, "python -m evaluation.pipeline", __doc__)
    from agents.registry import resolve, trainable, trainer
    from agents.train import main as train_main
    from data_collection.run import main as collect_main

    from .ceiling import main as ceiling_main
    from .run import main as eval_main
    from .tables import main as tables_main

    t0 = time.perf_counter()
    STEP_SECONDS.clear()  # this run's steps only
    out = cfg.out
    data = f"{out}/data"
    agents = [resolve(a) for a in cfg.agents.split(",") if a.strip()]
    learned = set(trainable()) & set(agents)
    common = ["--seed", str(cfg.seed)]
    def sim_flags(workers: int) -> list[str]:
        return ["--workers", str(workers), "--executor", cfg.executor,
                *(["--ray-address", cfg.ray_address] if cfg.ray_address else []),
                *(["--partnet-dir", cfg.partnet_dir] if cfg.partnet_dir else [])]

    sim = sim_flags(cfg.workers)
    categories = cfg.eval_categories()
    if cfg.partnet_dir:
        print(cfg.describe_partnet(), flush=True)
    image = ["--image-size", str(cfg.image_size)]
    short = ["--allow-short"] if cfg.partnet_dir else []  # a real object one pull cannot open stops nothing
    if learned:
        step("collect", collect_main, ["--category", cfg.collect_categories(), "--samples", str(cfg.samples),
                                       "--keep-failures", *short, *sim, *image, "--out", data, *common],
             "data_collection.run")
    extra = {"exploration": f"{out}/explore"}  # the datasets a trainer may ask for (PIPELINE_DATA)
    if any("exploration" in getattr(trainer(a)[1], "PIPELINE_DATA", {}) for a in learned):
        step("collect exploration", collect_main,
             ["--category", cfg.collect_categories(), "--samples", str(cfg.explore_samples), "--keep-failures",
              "--directions", "hemisphere", *short, *sim, *image, "--out", extra["exploration"], *common],
             "data_collection.run")
    # a learned agent is trained once per training seed (seed, seed + 1, ...): one trained model is one draw
    models = [(a, k) for a in agents for k in (range(cfg.train_seeds) if a in learned else [None])]
    trainings = []
    for a, k in training_order(models, learned):
        module = trainer(a)[1]
        flags = train_flags(cfg, module) + train_data(module, extra) + train_base(module, out, k)
        base = base_agent(module)
        trainings.append(Step(f"train {label(a, k)}", "agents.train",
                              ["--agent", a, "--data", data, "--out", checkpoint_dir(out, a, k), *flags,
                               "--seed", str(cfg.seed + k)], after=(f"train {label(base, k)}",) if base else ()))
    train_at_once = cfg.trainings_at_once()
    run_steps(trainings, train_main, jobs=train_at_once, threads=cfg.train_threads, log_dir=f"{out}/logs")
    step("ceiling", ceiling_main, ["--categories", categories, "--episodes", str(cfg.episodes), *sim, *image,
                                   "--out", f"{out}/ceiling", *common], "evaluation.ceiling")
    runs, evaluations, at_once = [], [], cfg.evaluations_at_once()
    if at_once > 1:
        workers, threads = cfg.eval_share()
        eval_sim = [*sim_flags(workers), "--agent-threads", str(threads)]
    else:
        eval_sim = sim
    for a, k in models:
        ck = ["--checkpoint", checkpoint_dir(out, a, k)] if a in learned else []
        run = f"{out}/eval/{label(a, k)}"
        evaluations.append(Step(f"evaluate {label(a, k)}", "evaluation.run",
                                ["--agent", a, *ck, "--label", label(a, k), "--categories", categories, "--episodes",
                                 str(cfg.episodes), *eval_sim, *image,
                                 "--out", run, *common]))
        runs.append(run)
    run_steps(evaluations, eval_main, jobs=at_once, log_dir=f"{out}/logs")
    tables = cfg.tables or f"{out}/tables"
    step("tables", tables_main, ["--runs", *runs, "--ceiling", f"{out}/ceiling", "--out", tables, "--reference"],
         "evaluation.tables")
    copy_records([*runs, f"{out}/ceiling"], f"{tables}/runs")
    if cfg.report or cfg.film:
        from .film import film

        first = [(label(a, k), a, checkpoint_dir(out, a, k) if a in learned else None, f"{out}/eval/{label(a, k)}")
                 for a, k in models if not k]
        film(step, first if cfg.film else [], tables, out, categories=categories, episodes=cfg.episodes,
             per_category=cfg.film, seed=cfg.seed, image_size=cfg.image_size, sim=sim)
    command = "python -m evaluation.pipeline " + " ".join(sys.argv[1:] if argv is None else argv)

    def record() -> None:
        atomic_write_text(f"{tables}/pipeline.json", json.dumps(
            {"command": command.strip(), "config": dataclasses.asdict(cfg),
             "wall_s": round(time.perf_counter() - t0, 1), "trainings_at_once": train_at_once,
             "evaluations_at_once": at_once,
             "steps_s": STEP_SECONDS, "machine": _machine(), "runs": [os.path.basename(r) for r in runs],
             "ceiling": "ceiling"}, indent=2) + "\n")

    record()
    if cfg.report:
        from .report import main as report_main

        step("report", report_main, [tables], "evaluation.report")
        record()  # with the report's time (the page shows the record as it was before it)
    print(f"\npipeline: done in {(time.perf_counter() - t0) / 60:.1f} min; tables in {tables}")
    return 0


def copy_records(run_dirs: list[str], dest: str) -> None:
    """Each run's run.json and its records, gzipped, under `dest/<run>/`: what the tables were
    computed from (evaluation.tables reads them back: --runs DEST/* --ceiling DEST/ceiling)."""
    import gzip
    from pathlib import Path

    from infra.files import atomic_write_bytes

    for d in map(Path, run_dirs):
        for f in d.iterdir():
            if f.name == "run.json":
                atomic_write_bytes(Path(dest) / d.name / f.name, f.read_bytes())
            elif f.suffix == ".jsonl":
                atomic_write_bytes(Path(dest) / d.name / (f.name + ".gz"), gzip.compress(f.read_bytes(), mtime=0))


def _machine() -> dict:
    import platform

    return {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version()}


if __name__ == "__main__":
    raise SystemExit(main())
