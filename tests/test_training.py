"""Training (issue 5): sim-QA data, co-training, head-only fine-tuning, Where2Act, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_main

from agents.robomamba import qa

ROOT = Path(__file__).resolve().parents[1]


def quick(**kw):
    from agents.robomamba.train import TrainConfig

    base = dict(qa_steps=3, qa_batch=4, qa_eval=8, epochs=2, batch_size=4, holdout=0.3, progress=False)
    return TrainConfig(**{**base, **kw})


# ------------------------------------------------------------------------------------------ sim-QA
def test_sim_qa_answers_follow_the_ground_truth():
    grid = np.zeros((qa.GRID, qa.GRID), bool)
    grid[2:5, 6:9] = True
    f = qa.QAFacts("storage furniture", "prismatic", "Predict ... drawer.", grid, (3, 7))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        kind, q, a = qa.questions(f, rng)
        seen.add(kind)
        if kind == "on_part":
            r, c = (int(w) for w in q.split() if w.isdigit())
            assert a == ("yes" if grid[r, c] else "no")
        elif kind == "grasp":
            assert qa.parse_grasp(a) == (3, 7)
        elif kind == "category":
            assert a == "storage furniture"
        else:
            assert a == "prismatic"
    assert seen == set(qa.KINDS)
    no_demo = qa.QAFacts("laptop", "revolute", "p", grid, None)
    assert all(qa.questions(no_demo, rng)[0] != "grasp" for _ in range(50))
    assert qa.cell_of((335, 0), 336, 336) == (9, 0) and qa.parse_grasp("row x col 1") is None


def test_qa_tokens_are_in_the_vocabulary_and_loss_covers_only_the_answer():
    from agents.robomamba.text import BOS, EOS, SEP, UNK, build_tokenizer
    from agents.robomamba.train import qa_tensors

    tok = build_tokenizer()
    items = [("category", qa.Q_CATEGORY, "storage furniture"), ("on_part", qa.Q_ON_PART.format(r=3, c=7), "no"),
             ("grasp", qa.Q_GRASP, "row 4 col 6")]
    ids, mask, labels = qa_tensors(tok, items, 48)
    assert not (ids == UNK).any()
    for i, (_, q, a) in enumerate(items):
        n_q = len(tok.encode(q).ids) + 2  # BOS ... SEP
        assert ids[i, 0] == BOS and ids[i, n_q - 1] == SEP
        ans = labels[i][labels[i] != -100].tolist()
        assert ans == tok.encode(a).ids + [EOS]
        assert (labels[i, :n_q] == -100).all() and int(mask[i].sum()) == n_q + len(ans)


# ------------------------------------------------------------------------------------------ RoboMamba
@pytest.mark.parametrize("head", ["mlp2", "mlp1", "ssm_mlp2"])
def test_head_only_finetuning_leaves_frozen_parameters_bit_identical(demos, head):
    from agents import make_agent
    from agents.robomamba.config import preset
    from agents.robomamba.train import train_head
    from agents.training_data import load

    agent = make_agent("robomamba", seed=1, config=preset("tiny", head=head))
    before = {k: v.clone() for k, v in agent.model.state_dict().items()}
    data = load(demos, agent.cfg.image_size, holdout_fraction=0.3, progress=False, surface=True)
    tr, va = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    rec = train_head(agent.model, agent.tokenizer, data, tr, va, quick(lr=1e-3))
    after = agent.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(k.startswith("head.") for k in changed), changed
    assert rec["trainable_params"] == sum(p.numel() for p in agent.model.head.parameters())
    assert 0 < rec["trainable_fraction"] < 0.2 and rec["steps"] == 2 * -(-len(tr) // 4) and rec["head"] == head
    # recomputing the frozen features every step trains the same head as the cache
    agent2 = make_agent("robomamba", seed=1, config=preset("tiny", head=head))
    train_head(agent2.model, agent2.tokenizer, data, tr, va, quick(lr=1e-3, feature_cache=False))
    for k, v in agent2.model.head.state_dict().items():
        assert torch.allclose(v, agent.model.head.state_dict()[k], atol=1e-5), k


# the paper's Appendix Table 6: parameters of each head at the paper's width, and the tiny model's fraction
@pytest.mark.parametrize("head, paper_millions, tiny_fraction", [("mlp2", 3.7, (0.06, 0.09)),
                                                                  ("mlp1", 1.8, (0.03, 0.05)),
                                                                  ("ssm_mlp2", 45.2, (0.15, 0.2))])
def test_head_variants_sizes(head, paper_millions, tiny_fraction):
    from agents import make_agent
    from agents.robomamba.config import preset
    from agents.robomamba.heads import build_head

    c = preset("paper")
    n = sum(p.numel() for p in build_head(head, c.d_model, c.head_hidden, c.state_size).parameters())
    assert abs(n / 1e6 - paper_millions) / paper_millions < 0.03, n
    agent = make_agent("robomamba", config=preset("tiny", head=head))
    counts = agent.parameter_counts()
    assert counts["trainable"] == counts["head"] == sum(p.numel() for p in agent.model.head.parameters())
    assert tiny_fraction[0] < counts["trainable"] / counts["total"] < tiny_fraction[1]
    assert agent.model.head.reads_sequence == (head == "ssm_mlp2")


def test_a_checkpoint_gets_another_head_through_init(demos, tmp_path):
    """--init CK --stages head --head mlp1: the backbone of CK, bit for bit, with a fresh head of the new kind."""
    from agents import checkpoint, factory
    from agents.train import main

    common = ["--agent", "robomamba", "--data", str(demos), "--qa-steps", "2", "--qa-batch", "4", "--qa-eval", "4",
              "--epochs", "1", "--batch-size", "4", "--holdout", "0.3", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "base")]) == 0
    assert main([*common, "--init", str(tmp_path / "base"), "--stages", "head", "--head", "mlp1",
                 "--out", str(tmp_path / "mlp1")]) == 0
    a, b = factory.load(tmp_path / "base"), factory.load(tmp_path / "mlp1")
    assert b.model.cfg.head == "mlp1" and checkpoint.read_config(tmp_path / "mlp1")["model_config"]["head"] == "mlp1"
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa if not k.startswith("head."))
    assert sorted(k for k in sb if k.startswith("head.")) == ["head.both.0.bias", "head.both.0.weight",
                                                              "head.both.2.bias", "head.both.2.weight",
                                                              "head.both.4.bias", "head.both.4.weight",
                                                              "head.input_norm.scale", "head.input_norm.shift"]
    # --stages full from the same base: a fresh head, and the head's loss trains every unfrozen parameter: all
    # but the packaged MobileNetV2, which the default keeps frozen (bit for bit)
    assert main([*common, "--init", str(tmp_path / "base"), "--stages", "full", "--out", str(tmp_path / "full")]) == 0
    c = factory.load(tmp_path / "full")
    assert c.model.cfg.vision == "mobilenet_v2" and c.model.cfg.freeze_vision is True
    rec = checkpoint.read_config(tmp_path / "full")["training"]["stages"]["full"]
    n_vision = sum(p.numel() for p in c.model.vision.parameters())
    assert rec["stage"] == "full" and rec["feature_cache"] is False
    assert 0 < n_vision < rec["total_params"] and rec["trainable_params"] == rec["total_params"] - n_vision, rec
    sc = c.model.state_dict()
    moved = {k.split(".")[0] for k in sa if not torch.equal(sa[k], sc[k])}
    assert moved == {"projector", "lm", "head"}, moved


def test_category_dropout_trains_the_head_without_the_name_and_reads_unseen_names_as_unk(demos, tmp_path):
    """--category-dropout P: the head also trains on prompts whose category name is blinded (one
    [UNK] per word), its record scores the held-out instances both ways, and the saved tokenizer reads
    a name training never saw as [UNK] while trained words keep their ids. 0 (the default before issue 25)
    keeps the whole vocabulary, and a record from before the setting existed counts as 0 (resume, no redo)."""
    from agents import checkpoint, factory
    from agents.robomamba.text import BLIND_WORD, UNK, blind_category
    from agents.train import main
    from sim_envs.categories import prompt_for

    assert blind_category("Pull the storage furniture.", "StorageFurniture", per_word=True) == \
        f"Pull the {BLIND_WORD} {BLIND_WORD}."
    common = ["--agent", "robomamba", "--data", str(demos), "--qa-steps", "2", "--qa-batch", "4", "--qa-eval", "4",
              "--epochs", "2", "--batch-size", "4", "--holdout", "0.3", "--no-progress"]
    base = [*common, "--category-dropout", "0", "--out", str(tmp_path / "base")]
    assert main(base) == 0
    head = [*common, "--init", str(tmp_path / "base"), "--stages", "head"]
    assert main([*head, "--category-dropout", "0", "--out", str(tmp_path / "d0")]) == 0
    assert main([*head, "--category-dropout", "0.5", "--out", str(tmp_path / "d5")]) == 0
    rec = checkpoint.read_config(tmp_path / "d5")["training"]["stages"]["head"]
    assert rec["category_dropout"] == 0.5 and rec["val_blind"].keys() == rec["val"].keys()
    assert rec["val_blind"] != rec["val"]
    d0, d5 = factory.load(tmp_path / "d0"), factory.load(tmp_path / "d5")
    s0, s5 = d0.model.state_dict(), d5.model.state_dict()
    assert all(torch.equal(s0[k], s5[k]) for k in s0 if not k.startswith("head."))
    # the blinded prompts reached the head's weights, not only its input statistics
    assert any(not torch.equal(s0[k], s5[k]) for k in s0 if k.startswith("head.") and ".input_norm." not in k)
    unseen, seen = prompt_for("KitchenPot"), prompt_for("Laptop")
    assert d5.tokenizer.encode(unseen).ids.count(UNK) == 2 and UNK not in d0.tokenizer.encode(unseen).ids
    assert d5.tokenizer.encode(seen).ids == d0.tokenizer.encode(seen).ids and UNK not in d5.tokenizer.encode(seen).ids
    assert d5.tokenizer.encode(blind_category(seen, "Laptop", per_word=True)).ids.count(UNK) == 1
    # a checkpoint whose record predates the setting: the same command has nothing to redo
    cfg = tmp_path / "base" / "config.json"
    meta = json.loads(cfg.read_text())
    del meta["training"]["config"]["category_dropout"]
    cfg.write_text(json.dumps(meta))
    stamp = (tmp_path / "base" / "model.safetensors").stat().st_mtime_ns
    assert main(base) == 0 and (tmp_path / "base" / "model.safetensors").stat().st_mtime_ns == stamp


def test_centre_crop_geometry_maps_pixels_both_ways():
    """crop_box / centre_crop / pixel_targets / uncrop_pixel: a contact pixel goes into the crop's [0, 1]
    frame and back to the same pixel; crop 1 is the whole image and the old normalisation."""
    import pandas as pd

    from agents.training_data import centre_crop, crop_box, pixel_targets, uncrop_pixel

    assert crop_box(336, 336, 0.4) == (101, 101, 134, 134) and crop_box(336, 336, 1.0) == (0, 0, 336, 336)
    img = np.arange(336 * 336 * 3, dtype=np.int64).reshape(336, 336, 3)
    assert centre_crop(img, 1.0) is img
    assert np.array_equal(centre_crop(img, 0.4), img[101:235, 101:235])
    frame = pd.DataFrame({"contact_pixel": [np.array([150, 220]), np.array([0, 335])], "height": [336, 336],
                          "width": [336, 336]})
    assert np.allclose(pixel_targets(frame, 1.0), (np.stack(frame.contact_pixel) + 0.5) / 336)
    t = pixel_targets(frame, 0.4)
    assert np.allclose(t[0], [(150.5 - 101) / 134, (220.5 - 101) / 134])
    assert uncrop_pixel(t[0], 336, 336, 0.4) == (150, 220)
    assert t[1, 0] < 0 and t[1, 1] > 1  # outside the crop: a target beyond the head's [0, 1]
    assert uncrop_pixel(t[1], 336, 336, 0.4) == (101, 234)  # clamped to the crop's edge pixels
    assert uncrop_pixel((0.5, 0.25), 336, 336, 1.0) == (168, 84)


def test_a_cropped_model_trains_sees_the_centre_and_acts_in_full_image_pixels(demos, tmp_path, env):
    """--crop 0.5: the checkpoint records it, sim-QA's grasp cells are over the crop, the agent's
    contact pixels land inside the crop region of the full image; --init keeps the backbone's crop
    (another one exits 2)."""
    from agents import checkpoint, factory
    from agents.robomamba.train import facts
    from agents.train import main
    from agents.training_data import crop_box, load

    common = ["--agent", "robomamba", "--data", str(demos), "--qa-steps", "2", "--qa-batch", "4", "--qa-eval", "4",
              "--epochs", "1", "--batch-size", "4", "--holdout", "0.3", "--no-progress"]
    assert main([*common, "--crop", "0.5", "--out", str(tmp_path / "c")]) == 0
    agent = factory.load(tmp_path / "c")
    assert agent.cfg.crop == 0.5 and checkpoint.read_config(tmp_path / "c")["model_config"]["crop"] == 0.5
    full, cropped = (load(demos, 224, progress=False, grid=qa.GRID),
                     load(demos, 224, progress=False, grid=qa.GRID, crop=0.5))
    assert not np.array_equal(full.rgb, cropped.rgb) and not np.array_equal(full.on_part, cropped.on_part)
    for _, f1, (h, w, px) in zip(facts(full), facts(cropped, 0.5),
                                 cropped.frame[["height", "width", "contact_pixel"]].values):
        t, left, ch, cw = crop_box(h, w, 0.5)
        inside = t <= px[0] < t + ch and left <= px[1] < left + cw
        assert (f1.grasp_cell is not None) == inside
        if inside:
            assert f1.grasp_cell == (int((px[0] - t) * qa.GRID / ch), int((px[1] - left) * qa.GRID / cw))
    obs, _ = env.reset(seed=3, options={"task": "drawer"})
    h, w = obs["rgb"].shape[:2]
    t, left, ch, cw = crop_box(h, w, 0.5)
    a = agent.act([obs, obs], seeds=[0, 1])
    assert ((a[:, 0] >= t) & (a[:, 0] < t + ch) & (a[:, 1] >= left) & (a[:, 1] < left + cw)).all()
    with pytest.raises(SystemExit) as e:
        main([*common, "--init", str(tmp_path / "c"), "--stages", "head", "--crop", "0.4",
              "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and not (tmp_path / "x").exists()
    assert main([*common, "--init", str(tmp_path / "c"), "--stages", "head", "--out", str(tmp_path / "h")]) == 0
    assert factory.load(tmp_path / "h").cfg.crop == 0.5


@pytest.mark.parametrize("head", ["mlp2", "ssm_mlp2"])
def test_head_training_standardises_its_input_with_the_training_features(demos, head):
    """InputNorm is fitted on the training samples' features (mean 0, std 1 after it); --no-input-norm
    leaves it the identity; the record says which rotation loss and normalisation were used."""
    from agents import make_agent
    from agents.robomamba.config import preset
    from agents.robomamba.train import head_features, train_head
    from agents.training_data import load

    agent = make_agent("robomamba", seed=2, config=preset("tiny", head=head))
    data = load(demos, agent.cfg.image_size, holdout_fraction=0.3, progress=False, surface=True)
    tr, va = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    # no category dropout here: with it, the norm is fitted on named and blinded prompts together
    rec = train_head(agent.model, agent.tokenizer, data, tr, va, quick(lr=1e-3, category_dropout=0.0))
    assert rec["input_norm"] is True and rec["rotation_loss"] == "geodesic"  # the default
    feats = head_features(agent.model, agent.tokenizer, data, tr)
    x = feats[0][feats[1].bool()] if head == "ssm_mlp2" else feats
    z = agent.model.head.input_norm(x).double()
    assert torch.allclose(z.mean(0), torch.zeros(z.shape[1], dtype=torch.float64), atol=1e-4)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(z.shape[1], dtype=torch.float64), atol=1e-3)
    raw = make_agent("robomamba", seed=2, config=preset("tiny", head=head))
    rec = train_head(raw.model, raw.tokenizer, data, tr, va, quick(lr=1e-3, input_norm=False, rotation_loss="up"))
    assert rec["input_norm"] is False and rec["rotation_loss"] == "up"
    assert torch.equal(raw.model.head.input_norm.shift, torch.zeros(raw.cfg.d_model))
    assert torch.equal(raw.model.head.input_norm.scale, torch.ones(raw.cfg.d_model))


def test_a_frozen_encoder_is_run_once_per_sample_for_sim_qa_with_the_same_result(demos, monkeypatch):
    from agents import make_agent
    from agents.robomamba import train as tr_mod
    from agents.robomamba.config import preset
    from agents.training_data import load

    def trained(cache: bool):
        if not cache:
            monkeypatch.setattr(tr_mod, "frozen_image_features", lambda *a, **k: None)
        agent = make_agent("robomamba", seed=4, config=preset("tiny", freeze_vision=True))
        data = load(demos, agent.cfg.image_size, holdout_fraction=0.3, grid=qa.GRID, progress=False)
        idx = np.flatnonzero(~data.holdout)
        rec = tr_mod.train_qa(agent.model, agent.tokenizer, data, tr_mod.facts(data), idx, quick(qa_steps=4), "cotrain")
        monkeypatch.undo()
        return rec, agent.model.state_dict()

    (rec_c, a), (rec_n, b) = trained(True), trained(False)
    assert rec_c["vision_cache"] is True and rec_n["vision_cache"] is False
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert any(not torch.equal(a[k], make_agent("robomamba", seed=4).model.state_dict()[k])
               for k in a if k.startswith("lm."))


def test_a_checkpoint_from_before_the_input_norm_loads_with_the_identity(tmp_path):
    """Checkpoints written before InputNorm (no head.input_norm.* tensors) load; other missing tensors do not."""
    from safetensors.torch import load_file, save_file

    from agents import checkpoint, factory, make_agent
    from agents.checkpoint import CheckpointError

    agent = make_agent("robomamba", seed=3)
    with torch.no_grad():
        agent.model.head.input_norm.shift.fill_(0.5)
    checkpoint.save(agent, tmp_path / "ck", training={})
    f = tmp_path / "ck" / "model.safetensors"
    state = load_file(str(f))
    old = {k: v for k, v in state.items() if ".input_norm." not in k}
    assert len(old) == len(state) - 2
    save_file(old, str(f), metadata={"format": "pt"})
    loaded = factory.load(tmp_path / "ck")
    assert torch.equal(loaded.model.head.input_norm.shift, torch.zeros(agent.cfg.d_model))
    assert torch.equal(loaded.model.head.position[0].weight, agent.model.head.position[0].weight)
    save_file({k: v for k, v in old.items() if k != "head.position.0.weight"}, str(f), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="missing head.position.0.weight"):
        factory.load(tmp_path / "ck")


def test_training_cli_end_to_end_resume_and_refusals(demos, tmp_path, env):
    from agents import checkpoint, factory
    from agents.train import main

    out = tmp_path / "rm"
    args = ["--agent", "robomamba", "--data", str(demos), "--out", str(out), "--qa-steps", "3", "--qa-batch", "4",
            "--qa-eval", "8", "--epochs", "2", "--batch-size", "4", "--holdout", "0.3", "--no-progress"]
    assert main(args) == 0
    meta = checkpoint.read_config(out)
    stages = meta["training"]["stages"]
    assert list(stages) == ["cotrain", "head"]
    assert stages["cotrain"]["steps"] == 3 and "all" in stages["cotrain"]["qa_accuracy_val"]
    assert stages["head"]["feature_cache"] is True and stages["head"]["epochs"] == 2
    # the dataset it learned from: its master seed (was recorded as null) and demos per task
    assert meta["training"]["data_manifest"] == {"seed": 0, "tasks": {"drawer": 6, "laptop": 6}}
    agent = factory.load(out, agent="robomamba")
    obs, _ = env.reset(seed=5, options={"task": "drawer"})
    a = agent.act([obs, obs], seeds=[0, 1])
    assert a.shape == (2, 8) and np.isfinite(a).all()
    answers = agent.answer([obs], [qa.Q_JOINT])
    assert len(answers) == 1 and isinstance(answers[0], str)
    # rerun: nothing to redo, checkpoint untouched
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert main(args) == 0 and (out / "model.safetensors").stat().st_mtime_ns == stamp
    # other settings on the same directory: refused, nothing changed
    with pytest.raises(SystemExit) as e:
        main([*args[:-1], "--qa-lr", "0.5", "--no-progress"])
    assert e.value.code == 2 and (out / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("argv, message", [
    (["--agent", "nope"], "unknown agent 'nope'"),
    (["--agent", "random"], "agent 'random' has no training"),
    (["--agent", "robomamba", "--data", "/nonexistent"], "not a collected dataset"),
    (["--agent", "robomamba", "--stages", "cotrain,fly"], "--stages cotrain,fly: allowed"),
    (["--agent", "robomamba", "--epochs", "0"], "--epochs 0: must be"),
    (["--agent", "robomamba", "--head", "mlp3"],
     "invalid choice: 'mlp3' (choose from 'mlp2', 'mlp1', 'ssm_mlp2', 'point')"),
    (["--agent", "robomamba", "--rotation-loss", "roll"], "invalid choice: 'roll' (choose from 'up', 'geodesic')"),
    (["--agent", "robomamba", "--vision", "resnet"], "invalid choice: 'resnet' (choose from 'vit', 'mobilenet_v2')"),
    (["--agent", "robomamba", "--category-dropout", "1.5"], "--category-dropout 1.5: must be in [0, 1)"),
    (["--agent", "robomamba", "--crop", "0"], "--crop 0.0: must be in (0, 1]"),
])
def test_training_cli_bad_input_exits_2(argv, message, tmp_path):
    r = run_main("agents.train", *argv, "--out", tmp_path / "x")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------ Where2Act
def test_where2act_trains_on_successes_and_failures_and_acts(demos, tmp_path, env):
    from agents import factory
    from agents.baselines.where2act.train import TrainConfig, train

    cfg = TrainConfig(data=str(demos), out=str(tmp_path / "w"), epochs=1, batch_size=4, image_size=64, width=16,
                      proposals=8, progress=False)
    rec = train(cfg, log=lambda *a: None)["stages"]["train"]
    stamp = (tmp_path / "w" / "model.safetensors").stat().st_mtime_ns
    assert train(cfg, log=lambda *a: None)["stages"]["train"] == rec  # rerun: nothing to redo
    with pytest.raises(ValueError, match="other settings .*epochs=1 there, 2 now"):
        train(TrainConfig(**{**cfg.to_dict(), "epochs": 2}), log=lambda *a: None)
    assert (tmp_path / "w" / "model.safetensors").stat().st_mtime_ns == stamp
    frame_ok = json.loads((tmp_path / "w" / "config.json").read_text())["training"]["successes"]
    assert rec["interactions"] > rec["successes"] == frame_ok > 0  # failures were used too
    assert rec["data_manifest"] == {"seed": 0, "tasks": {"drawer": 6, "laptop": 6}}
    agent = factory.load(tmp_path / "w", agent="where2act")
    obs, _ = env.reset(seed=3, options={"task": "drawer"})
    a = agent.act([obs, obs], seeds=[4, 4])
    assert np.allclose(a[0], a[1]) and obs["object_mask"][int(a[0, 0]), int(a[0, 1])]
    up, fw = a[:, 2:5], a[:, 5:8]
    assert np.allclose(np.linalg.norm(up, axis=1), 1, atol=1e-5) and np.allclose((up * fw).sum(1), 0, atol=1e-5)


def test_probe_fits_fresh_heads_on_frozen_features_and_writes_its_table(demos, tmp_path):
    """python -m agents.robomamba.probe: a constant row and one row per recipe x prompt, scored on the
    trainer's held-out instances; the blind prompt hides the category word; bad input exits 2."""
    import pandas as pd

    from agents.robomamba.probe import blind_prompts
    from agents.robomamba.probe import main as probe_main
    from agents.robomamba.text import BLIND_WORD
    from agents.train import main

    assert blind_prompts(["Predict ... pulling the storage furniture."], ["StorageFurniture"]) == \
        [f"Predict ... pulling the {BLIND_WORD}."]
    ck = tmp_path / "ck"
    assert main(["--agent", "robomamba", "--data", str(demos), "--qa-steps", "2", "--qa-batch", "4", "--qa-eval", "4",
                 "--epochs", "1", "--batch-size", "4", "--holdout", "0.3", "--no-progress", "--out", str(ck)]) == 0
    out = tmp_path / "probe"
    assert probe_main(["--checkpoint", str(ck), "--data", str(demos), "--out", str(out), "--epochs", "1",
                       "--holdout", "0.3", "--no-progress"]) == 0
    df = pd.read_csv(out / "probe.csv")
    assert len(df) == 9 and df.recipe.iloc[0] == "constant"
    assert set(zip(df.recipe[1:], df.prompt[1:])) == {(r, p)
                                                      for r in ("raw+geodesic", "raw+up", "norm+geodesic", "norm+up")
                                                      for p in ("own", "blind")}
    for col in ("train_pixel_l1", "val_pixel_l1", "val_up_deg", "val_rotation_deg"):
        assert df[col].notna().all() and (df[col] >= 0).all(), col
    assert (df.val_up_deg <= 180).all() and int(df.val_samples[0]) > 0
    meta = json.loads((out / "probe.json").read_text())
    assert meta["command"].startswith("python -m agents.robomamba.probe")
    assert 0 < meta["diagnostics"]["object_pixel_fraction"] < 1 and meta["diagnostics"]["image_sensitivity"] >= 0
    r = run_main("agents.robomamba.probe", "--checkpoint", tmp_path / "none", "--out", tmp_path / "p2")
    assert r.returncode == 2 and "--checkpoint" in r.stderr and r.stderr.count("\n") == 1


def test_object_half_extent_is_the_farthest_object_pixel_from_the_centre():
    from agents.robomamba.probe import object_half_extent

    m = np.zeros((3, 100, 100), bool)
    m[0, 45:55, 45:55] = True  # centre 49.5: farthest rows/cols 45 and 54 -> 4.5
    m[1, 10:20, 49:51] = True  # row 10 -> 39.5
    m[2, 49:51, 49:91] = True  # col 90 -> 40.5
    assert object_half_extent(m, 100) == pytest.approx(0.405)
    assert object_half_extent(m, 0) == pytest.approx(0.045)


def test_the_sim_qa_schedule_by_hand():
    """warmup_cosine: (step + 1) / warmup up to 1, times a half-cosine over all steps; the optimiser follows
    it, and --qa-warmup sets the warm-up (0: none; negative: refused)."""
    import math

    from torch.optim.lr_scheduler import LambdaLR

    from agents.robomamba.train import TrainConfig, warmup_cosine
    from infra.cli import ConfigError

    assert warmup_cosine(0, 100, 50) == pytest.approx(1 / 50)
    assert warmup_cosine(49, 100, 50) == pytest.approx(0.5 * (1 + math.cos(math.pi * 49 / 100)))
    assert warmup_cosine(10, 100, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 10 / 100)))
    assert warmup_cosine(100, 100, 50) == pytest.approx(0.0) and warmup_cosine(150, 100, 50) == pytest.approx(0.0)
    # the committed models' schedule: the lambda it replaced, bit for bit
    assert all(warmup_cosine(s, 800, 50) == min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(s, 800) / 800))
               for s in range(0, 900, 7))
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = LambdaLR(opt, lambda s: warmup_cosine(s, 10, 3))
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1e-3 * warmup_cosine(s, 10, 3) for s in range(10)])
    assert seen[0] < seen[1] < seen[2] > seen[5] > seen[9]
    assert TrainConfig(qa_warmup=0).qa_warmup == 0
    with pytest.raises(ConfigError, match="qa_warmup"):
        TrainConfig(qa_warmup=-1)


def test_the_object_view_and_the_point_head_train_act_and_reload(demos, env, tmp_path):
    """--view object (the square around the object mask) with --head point: sim-QA cells and targets in the
    view, actions on the object (the agent reads the object mask), the same actions after a reload; a view
    that does not match the --init checkpoint's is refused."""
    from agents import factory
    from agents.robomamba.train import TrainConfig, train
    from agents.training_data import load, pixel_targets
    from agents.views import View
    from infra.cli import ConfigError

    out = tmp_path / "obj"
    rec = train(quick(data=str(demos), out=str(out), view="object", head="point", category_dropout=0.5))
    assert set(rec["stages"]) == {"cotrain", "head"} and rec["stages"]["head"]["head"] == "point"
    agent = factory.load(out)
    assert agent.cfg.view == "object" and agent.cfg.head == "point"
    # the object view needs the mask; the head's rotation in the surface frame (the default) needs depth and K
    assert agent.cfg.rotation_frame == "surface"
    assert agent.observation_keys == ("rgb", "prompt", "object_mask", "depth", "intrinsics")
    data = load(demos, 224, progress=False, view=View("object", margin=agent.cfg.object_margin))
    t = pixel_targets(data.frame, boxes=data.boxes)
    assert (t > -0.01).all() and (t < 1.01).all()  # the contact lies on the object, so inside its view
    obs = []
    for seed in range(3):
        o, _ = env.reset(seed=seed)
        obs.append(o)
    a = agent.act(obs)
    assert a.shape == (3, 8) and np.isfinite(a).all()
    for o, row in zip(obs, a):
        assert o["object_mask"][int(row[0]), int(row[1])]  # the point head's pixel, moved onto the object
    assert np.array_equal(factory.load(out).act(obs), a)
    with pytest.raises(ConfigError, match="view"):
        train(quick(data=str(demos), out=str(tmp_path / "again"), init=str(out), view="image", stages=("head",)))
    with pytest.raises(ConfigError, match="crop"):
        TrainConfig(view="object", crop=0.5)


def test_the_point_head_points_at_the_demos_cell():
    """The point head's loss is cross-entropy on the demo's cell plus L1 within it: trained on one target it
    comes to predict it."""
    from agents.robomamba.heads import build_head

    torch.manual_seed(0)
    head = build_head("point", 16, 32, image_tokens=9)
    hidden = torch.randn(4, 12, 16)
    mask = torch.ones(4, 12, dtype=torch.long)
    pos = torch.tensor([[0.5, 0.9]] * 4)  # cell (1, 2) of a 3 x 3 grid
    rot = torch.eye(3).expand(4, 3, 3)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(200):
        loss = head.train_loss((hidden, mask), pos, rot, "up")
        opt.zero_grad()
        loss.backward()
        opt.step()
    p, R = head((hidden, mask))
    assert p.shape == (4, 2) and R.shape == (4, 3, 3)
    assert torch.allclose(p, pos, atol=0.05)
    with pytest.raises(ValueError, match="square grid"):
        build_head("point", 16, 32, image_tokens=10)


def test_readouts_follow_what_the_images_carry():
    """agents.robomamba.readouts on images whose colour names the category (at equal luma) and whose square
    marks the contact pixel: the category is read from the colour images, not from their greyscale twins,
    and the numbers move when the images change."""
    import pandas as pd

    from agents import make_agent
    from agents.robomamba.readouts import greyscale, readouts
    from agents.training_data import Decoded

    rng = np.random.default_rng(0)
    n, cats = 64, ["Safe", "Door"]
    colours = {"Safe": (255, 0, 0), "Door": (0, 130, 0)}  # luma 76 both
    assert greyscale(np.array([[[[255, 0, 0], [0, 130, 0]]]], np.uint8))[0, 0, :, 0].tolist() == [76, 76]
    rgb, pos, rows = np.zeros((n, 224, 224, 3), np.uint8), np.zeros((n, 2), np.float32), []
    for i in range(n):
        c = cats[i % 2]
        r0, c0 = rng.integers(16, 208, 2)
        rgb[i, r0 - 12: r0 + 12, c0 - 12: c0 + 12] = colours[c]
        pos[i] = ((r0 + 0.5) / 224, (c0 + 0.5) / 224)
        rows.append({"category": c, "task": c, "instance_id": str(i),
                     "prompt": f"Predict the contact point and orientation for pulling the {c.lower()}."})
    hold = (np.arange(n) // 2) % 4 == 0
    data = Decoded(pd.DataFrame(rows), rgb, None, None, None, None, None, hold, None)
    agent = make_agent("robomamba", seed=0)
    table = {(r["images"], r["stage"]): r for r in readouts(agent.model, agent.tokenizer, data, pos)}
    assert set(table) == {(i, s) for i in ("colour", "grey") for s in ("vision", "projector", "lm_image", "lm_text",
                                                                         "pooled")}
    colour, grey = table[("colour", "vision")], table[("grey", "vision")]
    assert colour["category_accuracy_val"] >= 0.75 > grey["category_accuracy_val"]
    assert colour["category_chance"] == 0.5 and colour["pixel_l1_constant_val"] > 0
    blank = Decoded(data.frame, np.zeros_like(rgb), None, None, None, None, None, hold, None)
    nothing = {(r["images"], r["stage"]): r for r in readouts(agent.model, agent.tokenizer, blank, pos)}
    assert nothing[("colour", "vision")]["category_accuracy_val"] < colour["category_accuracy_val"]
    assert nothing[("colour", "lm_image")]["pixel_l1_val"] > table[("colour", "lm_image")]["pixel_l1_val"]


def test_a_head_in_the_world_frame_trains_on_world_targets_and_acts_in_the_camera_frame(demos, env, tmp_path):
    """--rotation-frame world: the targets are the demos' rotations in the world frame (the camera-frame ones
    turned by each sample's cam2world), the agent reads cam2world and turns the head's rotation back into the
    camera frame, the setting survives a reload, and a bad frame exits 2 with one line."""
    import pyarrow.parquet as pq

    from agents import factory
    from agents.robomamba.train import train
    from agents.training_data import load, rotation_targets

    data = load(demos, 224, progress=False)
    cam, world = rotation_targets(data.frame, "camera"), rotation_targets(data.frame, "world")
    table = pq.read_table(sorted(Path(demos).rglob("*.parquet"))[0], columns=["sample_id", "cam2world"]).to_pandas()
    c2w = {s: np.asarray(t, np.float64).reshape(4, 4)[:3, :3] for s, t in zip(table.sample_id, table.cam2world)}
    checked = 0
    for i, sid in enumerate(data.frame.sample_id):
        if sid in c2w:
            assert np.allclose(c2w[sid] @ cam[i], world[i], atol=1e-4)
            checked += 1
    assert checked > 0 and not np.allclose(cam, world, atol=1e-2)

    out = tmp_path / "world"
    rec = train(quick(data=str(demos), out=str(out), rotation_frame="world"))
    assert rec["config"]["rotation_frame"] == "world"
    agent = factory.load(out)
    assert agent.cfg.rotation_frame == "world" and "cam2world" in agent.observation_keys
    obs = [env.reset(seed=s)[0] for s in range(2)]
    a = agent.act(obs)
    as_world = agent.act([{**o, "cam2world": np.eye(4, dtype=np.float32)} for o in obs])  # the head's own output
    for o, row, w in zip(obs, a, as_world):
        R = np.asarray(o["cam2world"], np.float64)[:3, :3]
        assert np.allclose(row[2:5], R.T @ w[2:5], atol=1e-5) and np.allclose(row[5:8], R.T @ w[5:8], atol=1e-5)
    bad = run_main("agents.train", "--agent", "robomamba", "--data", demos, "--out", tmp_path / "bad",
                   "--rotation-frame", "body")
    assert bad.returncode == 2 and "body" in bad.stderr and "world" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_head_in_the_surface_frame_trains_relative_to_the_observed_surface(demos, env, tmp_path):
    """--rotation-frame surface: each target is the demo's rotation in the frame of the surface its depth image
    shows at the contact pixel; the demos' `up` (minus the true normal, plus noise) then lies near that frame's
    z axis, which the estimate from depth alone must find; the agent reads depth and intrinsics and turns the
    head's rotation back into the camera frame at the pixel it chose."""
    from agents import factory
    from agents.frames import observation_basis
    from agents.robomamba.train import train
    from agents.training_data import load, rotation_targets

    data = load(demos, 224, progress=False, surface=True)
    cam, surf = rotation_targets(data.frame, "camera"), rotation_targets(data.frame, "surface", data.surface)
    assert np.allclose(np.einsum("nij,njk->nik", data.surface, surf), cam, atol=1e-5)
    tilt = np.degrees(np.arccos(np.clip(surf[:, 2, 2], -1, 1)))  # up against the surface frame's z
    assert np.median(tilt) < 25, np.percentile(tilt, [50, 90])
    with pytest.raises(ValueError, match="surface"):
        rotation_targets(data.frame, "surface")

    out = tmp_path / "surface"
    rec = train(quick(data=str(demos), out=str(out), rotation_frame="surface"))
    assert rec["config"]["rotation_frame"] == "surface"
    agent = factory.load(out)
    assert agent.cfg.rotation_frame == "surface" and {"depth", "intrinsics"} <= set(agent.observation_keys)
    obs = [env.reset(seed=s)[0] for s in range(2)]
    for o, row in zip(obs, agent.act(obs)):
        _, _, R = agent._predict(o)
        S = observation_basis(o, int(row[0]), int(row[1]))
        assert np.allclose(row[2:5], (S @ R)[:, 2], atol=1e-6) and np.allclose(row[5:8], (S @ R)[:, 0], atol=1e-6)


# ------------------------------------------------------------------------------------------ UMPNet, FlowBot3D
def _acts_the_same_after_loading(path, name, env, seeds=(4, 4)):
    from agents import factory

    agent = factory.load(path, agent=name)
    obs, _ = env.reset(seed=3, options={"task": "drawer"})
    a = agent.act([obs, obs], seeds=list(seeds))
    again = factory.load(path, agent=name).act([obs, obs], seeds=list(seeds))
    np.testing.assert_array_equal(a, again)  # saved and loaded: the same actions
    assert np.allclose(a[0], a[1]) and obs["object_mask"][int(a[0, 0]), int(a[0, 1])]
    up, fw = a[:, 2:5], a[:, 5:8]
    assert np.allclose(np.linalg.norm(up, axis=1), 1, atol=1e-5) and np.allclose((up * fw).sum(1), 0, atol=1e-5)
    return a


@pytest.fixture(scope="module")
def explore(env, tmp_path_factory):
    """A tiny exploration collection: uniform directions over the hemisphere into the surface."""
    from data_collection.collect import collect
    from data_collection.config import CollectConfig

    out = tmp_path_factory.mktemp("explore")
    collect(CollectConfig(categories="drawer", samples=2, block_size=4, workers=0, out=str(out), keep_failures=True,
                          directions="hemisphere"), ["drawer"], env=env, progress=False)
    return out


def test_exploration_directions_cover_the_hemisphere_into_the_surface(explore, env):
    """Exploration pulls spread over the hemisphere into the surface (replayed: the true normal at each
    contact pixel), none pointing out of it; the flag without --keep-failures exits 2."""
    df = pd.read_parquet(explore / "shards", columns=["episode_seed", "task", "contact_pixel", "up_cam", "executed"])
    df = df[df.executed]
    assert len(df) >= 4
    angles = []
    for row in df.itertuples():
        env.reset(seed=int(row.episode_seed), options={"task": row.task, "split": "train"})
        n = env.unwrapped.privileged().true_normals([row.contact_pixel])[0]
        angles.append(np.degrees(np.arccos(np.clip(np.dot(row.up_cam, -n), -1, 1))))
    assert max(angles) <= 90 + 1e-3 and max(angles) > 30, angles  # expert demos: within ~10 degrees
    r = run_main("data_collection.run", "--category", "drawer", "--directions", "hemisphere", "--out", explore / "x")
    assert r.returncode == 2 and "add --keep-failures" in r.stderr and r.stderr.count("\n") == 1


def test_umpnet_trains_on_outcomes_and_exploration_and_acts(demos, explore, tmp_path, env):
    from agents.baselines.umpnet.model import DIRECTION_CLASSES
    from agents.baselines.umpnet.train import TrainConfig, direction_classes, train

    frame = pd.DataFrame({"success": [True, True, False, False], "dq": [0.3, -0.2, 0.5, 0.0]})
    assert [DIRECTION_CLASSES[k] for k in direction_classes(frame)] == ["opens", "closes", "no_motion", "no_motion"]
    cfg = TrainConfig(data=str(demos), exploration_data=str(explore), out=str(tmp_path / "u"), epochs=1,
                      batch_size=4, image_size=32, width=8, directions=8, holdout=0.3, progress=False)
    rec = train(cfg, log=lambda *a: None)["stages"]["train"]
    rows = [len(pd.read_parquet(d / "shards", columns=["trial"])) for d in (demos, explore)]
    assert rec["interactions"] == sum(rows)  # both datasets
    assert rec["classes"]["opens"] > 0 and rec["classes"]["no_motion"] > 0
    assert 0 <= rec["val_direction_accuracy"] <= 1
    assert train(cfg, log=lambda *a: None)["stages"]["train"] == rec  # rerun: nothing to redo
    _acts_the_same_after_loading(tmp_path / "u", "umpnet", env)


def test_flowbot3d_regresses_flow_and_acts_along_it(demos, tmp_path, env):
    from agents.baselines.flowbot3d.train import TrainConfig, flow_metrics, train

    true = torch.tensor([[[1.0, 0, 0], [0, 0, 0]]])
    assert flow_metrics(true, true) == {"rmse": 0.0, "cosine": 1.0, "magnitude_error": 0.0}
    m = flow_metrics(torch.tensor([[[0, 2.0, 0], [0, 0, 0]]]), true)
    assert m["cosine"] == 0.0 and m["magnitude_error"] == 0.5 and m["rmse"] == round(np.sqrt(5 / 2), 4)
    cfg = TrainConfig(data=str(demos), out=str(tmp_path / "f"), points=64, train_points=32, width=16, epochs=2,
                      batch_size=4, holdout=0.3, progress=False)
    rec = train(cfg, log=lambda *a: None)["stages"]["train"]
    assert rec["clouds"] == len(pd.read_parquet(demos / "shards", columns=["trial"]))  # every trial, failed or not
    assert set(rec["val_flow"]) == set(rec["val_constant"]) == {"rmse", "cosine", "magnitude_error"}
    a = _acts_the_same_after_loading(tmp_path / "f", "flowbot3d", env)
    # pulled along the predicted flow of the chosen point: up is minus the network's flow there
    from agents import factory
    from agents.baselines.flowbot3d.cloud import object_cloud

    obs, _ = env.reset(seed=3, options={"task": "drawer"})
    rows, cols, _, _ = object_cloud(obs["depth"], obs["intrinsics"], obs["object_mask"])
    assert (int(a[0, 0]), int(a[0, 1])) in set(zip(rows.tolist(), cols.tolist()))
    assert factory.load(tmp_path / "f").parameter_counts()["total"] > 0


def test_baselines_refuse_datasets_without_what_they_need(demos, tmp_path):
    """FlowBot3D refuses a format-v1 dataset (no link map, no joints), UMPNet exploration data that did not
    explore: one line, exit 2, nothing written."""
    import shutil

    import pyarrow.parquet as pq

    old = tmp_path / "v1"
    shutil.copytree(demos, old)
    for p in (old / "shards").glob("*/*.parquet"):
        t = pq.read_table(p)
        pq.write_table(t.drop(["link_map_png", "joints_json"]).replace_schema_metadata(t.schema.metadata), p)
    r = run_main("agents.train", "--agent", "flowbot3d", "--data", old, "--out", tmp_path / "x", "--no-progress")
    assert r.returncode == 2 and "no joint labels (link_map_png, joints_json)" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "x").exists()
    r = run_main("agents.train", "--agent", "umpnet", "--data", demos, "--exploration-data", demos, "--out",
                 tmp_path / "x", "--no-progress")
    assert r.returncode == 2 and "collected with directions 'expert', not 'hemisphere'" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


def test_every_trainers_main_job_settings_and_datasets_reach_its_flags(tmp_path):
    """The main job hands each trainer its budget settings (PIPELINE_FLAGS) and the datasets it asks for
    (PIPELINE_DATA: UMPNet's exploration collection), and the trainer's own parser takes them."""
    from agents.registry import trainable, trainer
    from evaluation.pipeline import PipelineConfig, train_data, train_flags
    from infra.cli import parse_config

    cfg = PipelineConfig(umpnet_epochs=3, flowbot3d_epochs=5, where2act_epochs=2, manipllm_steps=7, qa_steps=9)
    seen = {}
    for name in trainable():
        mod = trainer(name)[1]
        argv = train_flags(cfg, mod) + train_data(mod, {"exploration": str(tmp_path / "explore")})
        parsed, _ = parse_config(mod.TrainConfig, ["--agent", name, "--data", str(tmp_path), *argv], "t", "")
        seen[name] = parsed
    assert seen["umpnet"].epochs == 3 and seen["umpnet"].exploration_data == str(tmp_path / "explore")
    assert seen["flowbot3d"].epochs == 5 and seen["where2act"].epochs == 2
    assert seen["manipllm"].steps == 7 and seen["roboflamingo"].qa_steps == 9 and seen["robomamba"].qa_steps == 9
    assert train_data(trainer("where2act")[1], {}) == []  # asks for no extra dataset


FAKE_STEP = '''
import json, os, sys, time
out, wait, code = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
t0 = time.time()
print("fake step", out, flush=True)
time.sleep(wait)
json.dump({"start": t0, "end": time.time(), "omp": os.environ.get("OMP_NUM_THREADS")}, open(out, "w"))
if code:
    print("the last words of a failing step", flush=True)
sys.exit(code)
'''


def test_run_steps_runs_steps_at_once_after_the_steps_they_wait_for(tmp_path, monkeypatch, capsys):
    """The main job's --train-jobs: at most `jobs` steps at once, each after those it waits for, each in its own
    process with its threads set and its own log; a failing step lets the running ones finish, starts no other,
    shows its log's end and stops the job with its exit code."""
    from evaluation.steps import STEP_SECONDS, Step, run_steps

    (tmp_path / "fake_step.py").write_text(FAKE_STEP)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    def fake(name, wait, code=0, after=()):
        return Step(name, "fake_step", [str(tmp_path / f"{name}.json"), str(wait), str(code)], after)

    def times(name):
        return json.loads((tmp_path / f"{name}.json").read_text())

    run_steps([fake("a", 1.0), fake("b", 0.2), fake("c", 0.2, after=("a",)), fake("d", 0.2, after=("zzz",))],
              None, jobs=2, threads=1, log_dir=tmp_path / "logs")
    a, b, c, d = (times(n) for n in "abcd")
    assert b["start"] < a["end"]  # two at once
    assert c["start"] >= a["end"]  # c waited for a; d waits for no step of this batch
    starts = sorted([(s["start"], 1) for s in (a, b, c, d)] + [(s["end"], -1) for s in (a, b, c, d)])
    assert max(np.cumsum([x for _, x in starts])) <= 2  # never three at once
    assert {s["omp"] for s in (a, b, c, d)} == {"1"}
    assert "fake step" in (tmp_path / "logs" / "a.log").read_text() and STEP_SECONDS["c"] > 0

    with pytest.raises(SystemExit) as e:
        run_steps([fake("e", 0.5), fake("f", 0.1, code=3), fake("g", 0.1), fake("h", 0.1, after=("f",))],
                  None, jobs=2, threads=1, log_dir=tmp_path / "logs")
    assert e.value.code == 3
    err = capsys.readouterr().err
    assert "the last words of a failing step" in err and "step 'f' failed (exit 3" in err
    assert (tmp_path / "e.json").exists()  # the running step finished
    assert not (tmp_path / "g.json").exists() and not (tmp_path / "h.json").exists()  # no other started

    import os
    import signal
    import subprocess
    import threading
    import time

    before = signal.getsignal(signal.SIGTERM)
    threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM)).start()  # a scheduler stopping the job
    t0 = time.time()
    with pytest.raises(SystemExit) as e:
        run_steps([fake("k", 60.0), fake("m", 60.0)], None, jobs=2, threads=1, log_dir=tmp_path / "logs")
    assert e.value.code == 128 + signal.SIGTERM and time.time() - t0 < 30  # its steps stopped with it
    assert not (tmp_path / "k.json").exists() and not (tmp_path / "m.json").exists()
    assert signal.getsignal(signal.SIGTERM) == before and "fake_step" not in subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True).stdout


def test_the_main_job_trains_one_model_per_core_at_one_thread_by_default(monkeypatch):
    """--train-jobs 0 (the default): one training per --train-threads cores, at most MAX_TRAIN_JOBS; with
    --train-threads 0 (torch's default threads) one at a time; an explicit count is kept."""
    from evaluation import pipeline
    from evaluation.pipeline import MAX_TRAIN_JOBS, PipelineConfig

    cfg = PipelineConfig()
    assert (cfg.train_jobs, cfg.train_threads) == (0, 1)
    for cores, threads, jobs in ((2, 1, 2), (1, 1, 1), (64, 1, MAX_TRAIN_JOBS), (8, 4, 2), (8, 0, 1), (3, 2, 1)):
        monkeypatch.setattr(pipeline.os, "cpu_count", lambda c=cores: c)
        assert PipelineConfig(train_threads=threads).trainings_at_once() == jobs, (cores, threads)
    assert PipelineConfig(train_jobs=3, train_threads=1).trainings_at_once() == 3


def test_trained_weights_do_not_depend_on_how_many_trainings_run_at_once(demos, tmp_path):
    """--train-jobs 2 (each training in its own process at --train-threads) trains the same weights, bit for bit,
    as --train-jobs 1 (one after the other in this process at those threads), for an agent whose weights change
    with the thread count (where2act); and the main job refuses several trainings at once without a thread
    count, in one line, with exit 2."""
    from agents.train import main as train_main
    from evaluation.steps import Step, run_steps

    def trainings(where):
        return [Step(f"train where2act@s{k}", "agents.train",
                     ["--agent", "where2act", "--data", str(demos), "--out", str(where / f"s{k}"), "--epochs", "1",
                      "--seed", str(k), "--no-progress"]) for k in (0, 1)]

    threads = 2 if torch.get_num_threads() == 1 else 1  # not what this process has: its setting must take
    run_steps(trainings(tmp_path / "one"), train_main, jobs=1, threads=threads)
    assert torch.get_num_threads() != threads  # put back
    run_steps(trainings(tmp_path / "two"), None, jobs=2, threads=threads, log_dir=tmp_path / "logs")
    for k in (0, 1):
        one = (tmp_path / "one" / f"s{k}" / "model.safetensors").read_bytes()
        assert one == (tmp_path / "two" / f"s{k}" / "model.safetensors").read_bytes(), k
    r = run_main("evaluation.pipeline", "--train-jobs", "2", "--train-threads", "0", "--out", tmp_path / "job")
    assert r.returncode == 2 and "--train-jobs 2" in r.stderr and "--train-threads" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "job").exists()
