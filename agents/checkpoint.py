"""Checkpoints: `model.safetensors` + `config.json` (agent name, model config, versions, training
record) + `tokenizer.json` + `README.md` (a model card written from the same record), in one
directory, written atomically (temp dir + rename). `evaluations.json`, added by evaluation.run after a
complete run of the checkpoint, lists its evaluations; the model card shows them. Agents load them with
`agents.factory.load(directory)` or, in the Hugging Face Hub convention,
`AgentClass.from_pretrained(directory)` (local directories only). This module reads and writes the
files; it knows no agent classes."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

FORMAT = "robomamba-bench/checkpoint/v1"
EVALUATIONS = "evaluations.json"  # evaluation.run's results of this checkpoint (model card section)
COUNTS = "parameters.json"  # the agent's parameter counts, for rewriting the model card


class CheckpointError(ValueError):
    """Missing, unreadable or mismatched checkpoint (CLIs exit 2 with the message)."""


def versions() -> dict:
    from infra.provenance import MODEL_PACKAGES
    from infra.provenance import versions as package_versions

    return package_versions(MODEL_PACKAGES, git=False)


def save(agent, directory, training: dict | None = None) -> Path:
    """Write a learned agent's `model` (safetensors), config and tokenizer (if any) to `directory`."""
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        save_model(agent.model, str(tmp / "model.safetensors"))
        # an agent whose model config is not `model.cfg` (ManipLLM: its adapters around a twin's) says so
        config = agent.model_config() if hasattr(agent, "model_config") else agent.model.cfg.to_dict()
        meta = {"format": FORMAT, "agent": agent.name, "model_config": config,
                "versions": versions(), "runtime": agent.runtime() if hasattr(agent, "runtime") else {},
                "training": training or {}}
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        (tmp / "README.md").write_text(model_card(meta, agent.parameter_counts()))
        (tmp / COUNTS).write_text(json.dumps(agent.parameter_counts()) + "\n")
        if getattr(agent, "tokenizer", None) is not None:
            (tmp / "tokenizer.json").write_text(agent.tokenizer.to_str())
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def model_card(meta: dict, counts: dict, evaluations: list | None = None) -> str:
    """The checkpoint's README.md: what it is, its size, what it was trained on and how, how it scored
    in its evaluations (evaluations.json) and how to load it; every figure from `meta` (config.json),
    the agent's parameter counts and the evaluation records."""
    train = meta.get("training") or {}
    cfg = train.get("config") or {}
    lines = [f"# {meta['agent']} checkpoint (robomamba-bench)", "",
             f"- agent: `{meta['agent']}`; format {meta.get('format')}",
             f"- parameters: {counts.get('total', 0):,} total, {counts.get('trainable', 0):,} trained in the last "
             "stage",
             f"- data: `{cfg.get('data', 'not recorded')}`" + (f", seed {cfg['seed']}" if "seed" in cfg else ""),
             "- training record: " + (", ".join(f"{k} {v}" for k, v in sorted(train.items())
                                                if isinstance(v, (int, float, str)) and k != "config") or "none"),
             "- packages: " + ", ".join(f"{k} {v}" for k, v in sorted((meta.get("versions") or {}).items())
                                         if isinstance(v, str)),
             "", "## Evaluation results", ""]
    if evaluations:
        others = [c for c in evaluations[-1].get("criteria", ["success", "success_manipllm"]) if c != "success"]
        lines += ["Success rate, mean over categories (|dq| > 0.1 moved by the pull" +
                  (f"; in brackets: {', '.join(others)}" if others else "") +
                  "), from each complete `evaluation.run` of this checkpoint:", "",
                  "| run | categories x episodes | physics | seed | seen | unseen | date |",
                  "|---|---|---|---|---|---|---|"]
        for e in evaluations:
            def rate(group, e=e):
                a = e["success"].get(group)
                more = [e.get(c, {}).get(group) for c in others]
                shown = ", ".join("-" if b is None else f"{b:.3f}" for b in more)
                return "-" if a is None else f"{a:.3f}" + (f" ({shown})" if more else "")
            lines.append(f"| `{e['run']}` | {e['categories']} x {e['episodes']} | {e['physics']}"
                         f"{' ' + ' '.join(e['env']) if e.get('env') else ''} | {e['seed']} | {rate('seen')} | "
                         f"{rate('unseen')} | {e['date']} |")
        lines += ["", "The per-episode records are in each run's `episodes.jsonl`."]
    else:
        lines.append("None yet: `python -m evaluation.run --agent " + meta["agent"] + " --checkpoint THIS_DIRECTORY` "
                     "adds its results here when the run completes.")
    lines += ["", "## Model configuration", "", "```json", json.dumps(meta.get("model_config", {}), indent=1), "```",
              "", "## Training settings", "", "```json", json.dumps(cfg, indent=1, default=str), "```",
              "", "## Loading", "", "```python",
              "from agents.factory import load",
              "agent = load(\"THIS_DIRECTORY\")            # or AgentClass.from_pretrained(\"THIS_DIRECTORY\")",
              "```", "",
              "Evaluate it with `python -m evaluation.run --agent " + meta["agent"] + " --checkpoint THIS_DIRECTORY`;",
              "run.json in that run's directory records this checkpoint's path and training.", ""]
    return "\n".join(lines)


def record_evaluation(directory, entry: dict, counts: dict | None = None) -> None:
    """Add (or replace, for the same run directory) an evaluation of the checkpoint in `directory` to
    its evaluations.json and rewrite its model card; both writes atomic. `entry` needs run, categories,
    episodes, physics, env, seed, success and success_manipllm ({group: rate}) and date."""
    from infra.files import atomic_write_text

    directory = Path(directory)
    meta = read_config(directory)
    path = directory / EVALUATIONS
    evaluations = json.loads(path.read_text()) if path.exists() else []
    evaluations = [e for e in evaluations if e.get("run") != entry["run"]] + [entry]
    if counts is None:
        counts = json.loads((directory / COUNTS).read_text()) if (directory / COUNTS).exists() else {}
    atomic_write_text(path, json.dumps(evaluations, indent=1) + "\n")
    atomic_write_text(directory / "README.md", model_card(meta, counts, evaluations))


def record(directory) -> dict:
    """What a run records of the checkpoint in `directory`: agent, model config, versions, training."""
    meta = read_config(directory)
    return {k: meta.get(k) for k in ("agent", "model_config", "versions", "training")}


def read_config(directory) -> dict:
    path = Path(directory) / "config.json"
    if not path.exists():
        raise CheckpointError(f"checkpoint {directory}: no config.json (expected model.safetensors, "
                              f"config.json, tokenizer.json)")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {directory}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


RUN_ONLY = ("out", "stages", "progress", "qa_eval")  # training settings that do not change the weights


def finished_training(cfg, log=print, added: dict | None = None) -> dict | None:
    """A one-stage trainer's result ({"stages": {"train": record}}) when `cfg.out` already holds its
    checkpoint trained with these settings (nothing to redo), else None; ValueError and `added` as
    previous_training."""
    prev = previous_training(cfg.out, cfg.to_dict(), added)
    if prev is None:
        return None
    log(f"{cfg.out}: already trained with these settings; nothing to do")
    return {"stages": {"train": prev}}


def previous_training(directory, config: dict, added: dict | None = None) -> dict | None:
    """The training record of the checkpoint in `directory` if it was trained with the same settings
    (resume / nothing to redo); None if there is none; ValueError naming the differences otherwise.
    `added`: settings introduced after the checkpoint may have been written, with the value that
    reproduces it (a record without the setting counts as having that value)."""
    if not (Path(directory) / "config.json").exists():
        return None
    prev = read_config(directory).get("training", {})
    old = {**(added or {}), **prev.get("config", {})}
    old = {k: v for k, v in old.items() if k not in RUN_ONLY}
    # as the record was written: JSON (a tuple-valued setting, such as ManipLLM's --tasks, reads back as a list)
    new = json.loads(json.dumps({k: v for k, v in config.items() if k not in RUN_ONLY}))
    if old != new:
        diff = ", ".join(f"{k}={old.get(k)!r} there, {new.get(k)!r} now" for k in sorted(set(old) | set(new))
                         if old.get(k) != new.get(k))
        raise ValueError(f"{directory} holds a model trained with other settings ({diff}); "
                         f"use another --out or the same settings")
    return prev


def load_weights(model, directory) -> None:
    """Load model.safetensors into `model`, with a CheckpointError when shapes or names do not fit.

    safetensors stores a tied tensor (e.g. an LM's input embedding and output head) once, under one
    of its names: a name missing from the file is fine when another name of the same tensor is there.
    Names ending in one of the model's `optional_state_keys` may be missing too (buffers added after a
    checkpoint was written; they keep their initial values)."""
    from safetensors.torch import load_file

    state = load_file(str(Path(directory) / "model.safetensors"))
    expected = model.state_dict(keep_vars=True)
    aliases: dict = {}
    for k, v in expected.items():
        aliases.setdefault(v.data_ptr(), []).append(k)
    bad = [f"{k}: {tuple(v.shape)} in the file, {tuple(expected[k].shape)} for the config"
           for k, v in state.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    optional = tuple(getattr(model, "optional_state_keys", ()))  # newer buffers that default when absent
    missing = [k for k, v in expected.items()
               if k not in state and not any(a in state for a in aliases[v.data_ptr()]) and not k.endswith(optional)]
    if bad or missing:
        detail = "; ".join(bad[:3] + [f"missing {k}" for k in missing[:3]])
        raise CheckpointError(f"checkpoint {directory} does not fit its config ({detail})")
    model.load_state_dict(state, strict=False)
