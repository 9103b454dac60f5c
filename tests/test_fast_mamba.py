"""The fast CPU selective scan (agents/robomamba/fast_mamba.py) against transformers' reference."""
import copy

import pytest
import torch

from agents.robomamba import fast_mamba
from agents.robomamba.config import RoboMambaConfig
from agents.robomamba.fast_mamba import (SelectiveScanFn, disable_fast_cpu_scan, enable_fast_cpu_scan,
                                         uses_fast_cpu_scan)
from agents.robomamba.model import build_lm

RTOL = 1e-4  # float32: max |fast - reference| <= RTOL * max |reference|, per tensor


def close(a, b):
    return (a - b).abs().max().item() <= RTOL * b.abs().max().item() + 1e-12


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread (two threads on a busy 2-core machine mostly wait for each other)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 tokens at batch 2 (d_inner 512, state 16), so short sequences span several blocks."""
    monkeypatch.setattr(fast_mamba, "BLOCK_ELEMENTS", 2 * 512 * 16 * 4)


@pytest.fixture
def pair():
    torch.manual_seed(0)
    fast = build_lm(RoboMambaConfig())
    with torch.no_grad():  # no zero-initialised biases: every parameter must matter
        for p in fast.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref = disable_fast_cpu_scan(copy.deepcopy(fast))
    return ref, fast


def naive_scan(u, delta, At, Bm, Cm):
    """The recurrence written out, token by token (token-major layout of SelectiveScanFn)."""
    h = torch.zeros(u.shape[1], At.shape[0], u.shape[2], dtype=u.dtype)
    ys = []
    for t in range(u.shape[0]):
        h = torch.exp(delta[t, :, None] * At) * h + Bm[t, :, :, None] * (delta[t] * u[t])[:, None]
        ys.append((Cm[t, :, :, None] * h).sum(1))
    return torch.stack(ys), h


def test_scan_function_gradcheck(monkeypatch):
    monkeypatch.setattr(fast_mamba, "BLOCK_ELEMENTS", 2 * 3 * 2 * 2)  # 2 tokens per block, 7 tokens: 4 blocks
    torch.manual_seed(0)
    L, B, D, N = 7, 2, 3, 2
    args = [torch.randn(L, B, D, dtype=torch.float64), torch.rand(L, B, D, dtype=torch.float64),
            -torch.rand(N, D, dtype=torch.float64) * 2, torch.randn(L, B, N, dtype=torch.float64),
            torch.randn(L, B, N, dtype=torch.float64)]
    args = [a.requires_grad_() for a in args]
    y, last = SelectiveScanFn.apply(*args)
    y0, last0 = naive_scan(*args)
    assert torch.allclose(y, y0) and torch.allclose(last, last0)
    assert torch.autograd.gradcheck(lambda *a: SelectiveScanFn.apply(*a)[0], args)


@pytest.mark.parametrize("length", [12, 15])  # 3 blocks exactly; 3 blocks and a partial one
def test_forward_and_gradients_match_reference(pair, small_blocks, length):
    ref, fast = pair
    torch.manual_seed(length)
    ids = torch.randint(0, ref.config.vocab_size, (2, length))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0  # left padding in the second sequence
    calls = []
    real = fast_mamba.fast_selective_scan
    fast_mamba.fast_selective_scan = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        results = []
        for lm in (ref, fast):
            lm.train()
            embeds = lm.get_input_embeddings()(ids).detach().requires_grad_()
            logits = lm(inputs_embeds=embeds, attention_mask=mask).logits
            (logits.square().mean() + logits[:, -1].sum()).backward()
            results.append((logits.detach(), embeds.grad, {n: p.grad for n, p in lm.named_parameters()}))
            if lm is ref:
                assert not calls  # the reference never takes the fast path
    finally:
        fast_mamba.fast_selective_scan = real
    assert len(calls) == ref.config.num_hidden_layers
    (l0, e0, g0), (l1, e1, g1) = results
    assert close(l1, l0)
    assert close(e1, e0)
    assert g0.keys() == g1.keys()
    for name in g0:
        assert close(g1[name], g0[name]), name


def test_inference_matches_reference(pair):
    ref, fast = pair
    ids = torch.randint(0, ref.config.vocab_size, (3, 40))
    with torch.no_grad():
        assert close(fast.eval()(ids).logits, ref.eval()(ids).logits)


def test_generate_with_cache_matches_reference(pair):
    ref, fast = pair
    torch.manual_seed(1)
    prompt = torch.randint(1, ref.config.vocab_size, (2, 13))
    kw = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False, pad_token_id=0,
              attention_mask=torch.ones_like(prompt))
    with torch.no_grad():
        out_ref = ref.eval().generate(prompt, **kw)
        out_fast = fast.eval().generate(prompt, **kw)
    assert torch.equal(out_fast, out_ref)
    # the cached one-token step agrees with a full pass over the same tokens
    with torch.no_grad():
        full = fast(out_fast).logits[:, -1]
        step = fast(out_fast[:, :-1], use_cache=True)
        last = fast(out_fast[:, -1:], cache_params=step.cache_params, use_cache=True).logits[:, -1]
    assert close(last, full)


def test_build_lm_uses_fast_path(tmp_path):
    mamba = build_lm(RoboMambaConfig())
    assert uses_fast_cpu_scan(mamba)
    assert not uses_fast_cpu_scan(build_lm(RoboMambaConfig(lm_type="llama")))
    assert not uses_fast_cpu_scan(disable_fast_cpu_scan(copy.deepcopy(mamba)))
    # a local Hugging Face checkpoint (AutoModelForCausalLM -> MambaForCausalLM) is enabled too
    mamba.save_pretrained(tmp_path / "lm")
    loaded = build_lm(RoboMambaConfig(lm_checkpoint=str(tmp_path / "lm")))
    assert uses_fast_cpu_scan(loaded)
    assert uses_fast_cpu_scan(enable_fast_cpu_scan(loaded))  # idempotent
    ids = torch.randint(0, 256, (1, 10))
    with torch.no_grad():
        assert torch.equal(loaded.eval()(ids).logits, mamba.eval()(ids).logits)
