"""Agents (issue 5, first part): registry, rotation maths, model sizes, every agent acts on env batches."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import UnknownAgentError, available, make_agent
from agents.rotation import geodesic_angle, geodesic_loss, gram_schmidt_6d, rotation_from_up_forward, rotation_to_6d

ROOT = Path(__file__).resolve().parents[1]


def test_listing_agents_imports_no_model_code():
    code = ("import sys, agents; names = agents.available(); "
            "bad = [m for m in ('torch', 'transformers', 'open_clip', 'sapien') if m in sys.modules]; "
            "print(names, bad); assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {"robomamba", "transformer", "where2act", "umpnet", "flowbot3d", "random", "chance",
            "oracle"} <= set(available())


def test_unknown_agent_lists_the_allowed_ones():
    with pytest.raises(UnknownAgentError, match="unknown agent 'nope'; allowed: .*robomamba.*random"):
        make_agent("nope")


def test_gram_schmidt_gives_proper_rotations():
    x = torch.randn(256, 6, dtype=torch.float64)
    R = gram_schmidt_6d(x)
    eye = torch.eye(3, dtype=torch.float64).expand(256, 3, 3)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(256, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(gram_schmidt_6d(rotation_to_6d(R)), R, atol=1e-10)  # rotations are fixed points
    # the first column keeps the first vector's direction
    assert torch.allclose(R[:, :, 0], x[:, :3] / x[:, :3].norm(dim=1, keepdim=True), atol=1e-10)


def test_geodesic_loss_zero_for_equal_and_pi_for_opposite():
    R = gram_schmidt_6d(torch.randn(64, 6, dtype=torch.float64))
    assert float(geodesic_loss(R, R)) < 1e-6
    flip = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64))  # rotation by pi about z
    assert torch.allclose(geodesic_angle(R, R @ flip), torch.full((64,), math.pi, dtype=torch.float64), atol=1e-6)
    a = 0.3
    Rz = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], dtype=torch.float64)
    assert torch.allclose(geodesic_angle(R, R @ Rz), torch.full((64,), a, dtype=torch.float64), atol=1e-6)
    x = torch.randn(8, 6, requires_grad=True)
    geodesic_loss(gram_schmidt_6d(x), gram_schmidt_6d(x).detach()).backward()
    assert torch.isfinite(x.grad).all()


def test_up_angle_ignores_the_roll_and_measures_the_approach_axis():
    from agents.rotation import rotation_loss, up_angle

    R = gram_schmidt_6d(torch.randn(64, 6, dtype=torch.float64))
    a = 0.7
    Rz = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], dtype=torch.float64)
    assert float(up_angle(R, R @ Rz).abs().max()) < 1e-6  # a roll about the up axis costs nothing
    assert float(geodesic_angle(R, R @ Rz).min()) > 0.69  # ... while the geodesic angle sees it
    Rx = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]], dtype=torch.float64)
    assert torch.allclose(up_angle(R, R @ Rx), torch.full((64,), a, dtype=torch.float64), atol=1e-6)
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))  # up reversed
    assert torch.allclose(up_angle(R, R @ flip), torch.full((64,), math.pi, dtype=torch.float64), atol=1e-6)
    x = torch.randn(8, 6, requires_grad=True)
    rotation_loss("up", gram_schmidt_6d(x), gram_schmidt_6d(x).detach()).backward()  # finite at angle 0
    assert torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="allowed: up, geodesic"):
        rotation_loss("roll", R, R)


def test_rotation_convention_matches_the_environment():
    up, fw = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.2, 0.0]])
    R = rotation_from_up_forward(up, fw)
    assert torch.allclose(R[0, :, 2], up[0]) and abs(float(R[0, :, 0] @ up[0])) < 1e-7
    from sim_envs.geometry import gram_schmidt

    assert np.allclose(gram_schmidt(up[0].numpy().astype(float), fw[0].numpy().astype(float)), R[0].numpy(), atol=1e-6)


def test_paper_preset_has_the_paper_sizes():
    from agents.robomamba.config import preset
    from agents.robomamba.model import RoboMambaModel

    with torch.device("meta"):
        counts = RoboMambaModel(preset("paper")).parameter_counts()
    assert 300e6 < counts["vision"] < 310e6  # CLIP ViT-L/14 visual tower
    assert 2.7e9 < counts["lm"] < 2.9e9  # Mamba 2.8B
    assert 19e6 < counts["projector"] < 23e6  # "about 21M"
    assert 3e6 < counts["head"] < 4.5e6  # "about 3.7M", 0.1% of the model
    assert 0.0008 < counts["head"] / counts["total"] < 0.0015


def test_transformer_twin_matches_the_mamba_size():
    from agents.robomamba.config import preset
    from agents.robomamba.model import RoboMambaModel

    for name in ("tiny", "paper"):
        with torch.device("meta"):
            m = RoboMambaModel(preset(name)).parameter_counts()
            t = RoboMambaModel(preset(name, lm_type="llama")).parameter_counts()
        assert abs(t["lm"] - m["lm"]) / m["lm"] < 0.01, (name, t["lm"], m["lm"])
        assert {k: v for k, v in t.items() if k not in ("lm", "total", "trainable")} == \
               {k: v for k, v in m.items() if k not in ("lm", "total", "trainable")}


@pytest.fixture(scope="module")
def episode(env):
    obs, info = env.reset(seed=11, options={"task": "drawer"})
    return obs, env.unwrapped.privileged()


@pytest.mark.parametrize("name", ["random", "chance", "oracle", "robomamba", "transformer", "where2act", "umpnet",
                                  "flowbot3d"])
def test_every_agent_acts_on_a_batch_from_the_environment(env, episode, name):
    obs, view = episode
    agent = make_agent(name)
    batch = [obs, obs, obs]
    actions = agent.act(batch, seeds=[0, 1, 2], privileged=[view] * 3 if agent.needs_privileged else None)
    assert actions.shape == (3, 8) and np.isfinite(actions).all()
    size = obs["rgb"].shape[0]
    assert ((actions[:, :2] >= 0) & (actions[:, :2] < size)).all()
    up, fw = actions[:, 2:5], actions[:, 5:8]
    assert np.allclose(np.linalg.norm(up, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(fw, axis=1), 1, atol=1e-5) and np.allclose((up * fw).sum(1), 0, atol=1e-5)
    again = agent.act(batch[:1], seeds=[1], privileged=[view] if agent.needs_privileged else None)
    assert np.allclose(again[0], actions[1],
                       atol=1e-4)  # an item's action does not depend on its batch (up to float batching)
    if name == "random":
        assert all(obs["object_mask"][int(r), int(c)] for r, c in actions[:, :2]) and (up[:, 2] > 0).all()
    if name == "oracle":
        assert all(obs["target_mask"][int(r), int(c)] for r, c in actions[:, :2])
    # the environment executes it as a valid action
    env.reset(seed=11, options={"task": "drawer"})
    info = env.step(actions[0])[4]
    assert not info["failure_reason"].startswith("invalid_action"), info["failure_reason"]


class Recording(dict):
    """An observation that remembers which keys were read."""

    def __init__(self, *a):
        super().__init__(*a)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def test_chance_reads_nothing_privileged(episode):
    from agents.baselines.chance_agent import ChanceAgent

    obs = Recording(episode[0])
    a = ChanceAgent().act([obs] * 200, seeds=list(range(200)))
    assert obs.read == {"rgb"}  # only the image (for its size): no mask, no depth
    assert (a[:, 4] > 0).all()  # up points into the scene
    on_object = np.mean([episode[0]["object_mask"][int(r), int(c)] for r, c in a[:, :2]])
    assert on_object < 0.6  # pixels of the whole image, not of the object


# ------------------------------------------------------------------------------ checkpoints and real weights
def test_checkpoint_round_trip_and_mismatch(tmp_path):
    import json

    from agents import checkpoint, factory

    a = make_agent("robomamba", seed=3)
    path = checkpoint.save(a, tmp_path / "ck", training={"note": "test"})
    b = factory.load(path, agent="robomamba")
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert b.cfg == a.cfg
    meta = json.loads((path / "config.json").read_text())
    assert meta["agent"] == "robomamba" and meta["versions"]["torch"] and meta["training"] == {"note": "test"}
    with pytest.raises(checkpoint.CheckpointError, match="made for agent 'robomamba', not 'transformer'"):
        factory.load(path, agent="transformer")
    meta["model_config"]["d_model"] = 128
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(checkpoint.CheckpointError, match="does not fit its config"):
        factory.load(path)
    with pytest.raises(checkpoint.CheckpointError, match="no config.json"):
        factory.load(tmp_path / "missing")


@pytest.mark.parametrize("name", ["transformer", "where2act", "umpnet", "flowbot3d"])
def test_checkpoint_round_trip_of_other_learned_agents(tmp_path, name):
    """The twin's tied embedding is stored under the LM head's name: it must load back all the same."""
    from agents import checkpoint, factory

    a = make_agent(name, seed=4)
    b = factory.load(checkpoint.save(a, tmp_path / "ck"), agent=name)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def no_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_real_weights_load_from_local_paths(tmp_path, no_network):
    """A tiny open_clip checkpoint and a tiny Hugging Face Mamba directory, saved here, load through
    the config's paths; the CLIP tower is frozen; a saved agent reloads without the original files."""
    import json

    import open_clip
    from transformers import MambaConfig, MambaForCausalLM

    from agents import checkpoint, factory
    from agents.robomamba.agent import RoboMambaAgent
    from agents.robomamba.config import preset
    from agents.robomamba.model import RoboMambaModel

    clip_cfg = {"embed_dim": 32,
                "vision_cfg": {"image_size": 64, "layers": 3, "width": 64, "head_width": 32, "patch_size": 16},
                "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "TinyTestCLIP.json").write_text(json.dumps(clip_cfg))
    open_clip.add_model_config(tmp_path / "TinyTestCLIP.json")
    torch.manual_seed(0)
    clip = open_clip.create_model("TinyTestCLIP")
    torch.save(clip.state_dict(), tmp_path / "clip.pt")
    lm = MambaForCausalLM(MambaConfig(vocab_size=256, hidden_size=96, num_hidden_layers=2, state_size=8))
    lm.save_pretrained(tmp_path / "mamba")

    cfg = preset("tiny", clip_model="TinyTestCLIP", clip_checkpoint=str(tmp_path / "clip.pt"),
                 lm_checkpoint=str(tmp_path / "mamba"))
    model = RoboMambaModel(cfg)
    for k, v in clip.visual.state_dict().items():
        assert torch.equal(model.vision.state_dict()[k], v), k
    for k, v in lm.state_dict().items():
        assert torch.equal(model.lm.state_dict()[k], v), k
    assert not any(p.requires_grad for p in model.vision.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    assert model.cfg.d_model == 96 and model.cfg.vision_width == 64 and model.cfg.image_size == 64

    agent = RoboMambaAgent(model=model)
    saved = checkpoint.save(agent, tmp_path / "ck")
    back = factory.load(saved, agent="robomamba")  # rebuilt from the stored architecture alone
    for k, v in model.state_dict().items():
        assert torch.equal(back.model.state_dict()[k], v), k
    img = torch.randint(0, 255, (1, 3, 96, 96), dtype=torch.uint8)
    ids = torch.tensor([[2, 10, 11]])
    with torch.no_grad():
        p1, r1 = model(model.preprocess(img), ids)
        p2, r2 = back.model(back.model.preprocess(img), ids)
    assert torch.allclose(p1, p2) and torch.allclose(r1, r2)
    assert not any(p.requires_grad for p in back.model.vision.parameters())


def test_model_card_and_from_pretrained(tmp_path):
    """A checkpoint carries a README.md model card from its own record, and loads back through the Hub
    convention (local directory, no network); another class refuses it."""
    from agents import checkpoint, factory
    from agents.registry import agent_class

    a = make_agent("robomamba", seed=3)
    path = a.save_pretrained(tmp_path / "ck", training={"config": {"data": "data/demos", "seed": 3}, "steps": 7})
    card = (path / "README.md").read_text()
    counts = a.parameter_counts()
    assert card.startswith("# robomamba checkpoint") and f"{counts['total']:,} total" in card
    assert "data: `data/demos`, seed 3" in card and "steps 7" in card and '"d_model"' in card
    b = agent_class("robomamba").from_pretrained(path)
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    with pytest.raises(checkpoint.CheckpointError, match="not a TransformerTwinAgent"):
        agent_class("transformer").from_pretrained(path)
    (path / "README.md").unlink()  # a checkpoint from before model cards still loads
    assert factory.load(path, agent="robomamba") is not None


def test_model_card_lists_the_checkpoints_evaluations(tmp_path):
    """A complete evaluation.run of a checkpoint adds its rates to evaluations.json and the model card;
    rerunning the same directory replaces its entry instead of adding another."""
    import json

    from conftest import run_main

    path = make_agent("robomamba", seed=3).save_pretrained(tmp_path / "ck")
    assert "None yet" in (path / "README.md").read_text()

    args = ["--agent", "robomamba", "--checkpoint", path, "--categories", "drawer,Faucet", "--episodes", "2",
            "--workers", "0", "--image-size", "96", "--quiet", "--out", tmp_path / "run"]
    for _ in range(2):
        p = run_main("evaluation.run", *args)
        assert p.returncode == 0, p.stderr
    evals = json.loads((path / "evaluations.json").read_text())
    recs = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    assert len(evals) == 1 and evals[0]["run"] == str(tmp_path / "run") and evals[0]["episodes_recorded"] == 4
    for group, cat in (("seen", "StorageFurniture"), ("unseen", "Faucet")):
        rate = np.mean([r["success"] for r in recs if r["category"] == cat])
        assert evals[0]["success"][group] == pytest.approx(rate)
    card = (path / "README.md").read_text()
    assert "## Evaluation results" in card and f"| `{tmp_path / 'run'}` | drawer,Faucet x 2 | default |" in card
    assert f"{evals[0]['success']['seen']:.3f} ({evals[0]['success_manipllm']['seen']:.3f})" in card
