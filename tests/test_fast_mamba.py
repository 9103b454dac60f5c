"""The fast CPU selective scan (agents/robomamba/fast_mamba.py) against transformers' reference."""
import copy
import importlib.metadata
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from transformers.models.mamba import modeling_mamba
from transformers.models.mamba.modeling_mamba import MambaMixer

from agents.robomamba import fast_mamba, scan_kernel
from agents.robomamba.config import RoboMambaConfig
from agents.robomamba.fast_mamba import (
    FastMambaUnavailable,
    SelectiveScanFn,
    disable_fast_cpu_scan,
    enable_fast_cpu_scan,
    uses_fast_cpu_scan,
)
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


@pytest.fixture(params=["kernel", "pytorch"])
def scan_backend(request):
    """Run the test once with the fused C++ scan (which must be built: scripts/setup.sh builds it) and once
    with the PyTorch scan."""
    if request.param == "kernel":
        assert scan_kernel.load(), f"the fused scan kernel is not available: {scan_kernel._STATE.get('problem')}"
        assert fast_mamba.kernel_active()
        yield "kernel"
    else:
        with fast_mamba.pytorch_scan():
            assert not fast_mamba.kernel_active()
            yield "pytorch"


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
def test_forward_and_gradients_match_reference(pair, small_blocks, length, scan_backend):
    ref, fast = pair
    torch.manual_seed(length)
    ids = torch.randint(0, ref.config.vocab_size, (2, length))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0  # left padding in the second sequence
    calls = []
    real = fast_mamba.full_sequence_forward
    fast_mamba.full_sequence_forward = lambda *a, **k: calls.append(1) or real(*a, **k)
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
        fast_mamba.full_sequence_forward = real
    assert len(calls) == ref.config.num_hidden_layers  # training: the whole mixer in fast_mamba
    (l0, e0, g0), (l1, e1, g1) = results
    assert close(l1, l0)
    assert close(e1, e0)
    assert g0.keys() == g1.keys()
    for name in g0:
        assert close(g1[name], g0[name]), name


@pytest.mark.parametrize("use_cache", [False, True])  # the whole mixer in fast_mamba; transformers' with the scan
def test_inference_matches_reference(pair, use_cache, scan_backend):
    ref, fast = pair
    ids = torch.randint(0, ref.config.vocab_size, (3, 40))
    mask = torch.ones_like(ids)
    mask[2, :7] = 0
    with torch.no_grad():
        for m in (None, mask):
            got = fast.eval()(ids, attention_mask=m, use_cache=use_cache).logits
            assert close(got, ref.eval()(ids, attention_mask=m, use_cache=use_cache).logits)


def scan_inputs(L, B, D, N, seed, dt_scale=1.0):
    """float64 scan inputs as a Mamba layer makes them: A = -(1..N) per channel (Mamba's initialisation,
    perturbed), step sizes softplus(dt_proj(x) + bias) with the bias of dt in [1e-3, 0.1] (times dt_scale)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(L, B, D, generator=g, dtype=torch.float64)
    bias = torch.log(torch.expm1(torch.exp(torch.empty(D, dtype=torch.float64).uniform_(
        torch.log(torch.tensor(1e-3)).item(), torch.log(torch.tensor(0.1)).item(), generator=g)) * dt_scale))
    delta = torch.nn.functional.softplus(torch.randn(L, B, D, generator=g, dtype=torch.float64) * 0.5 + bias)
    At = -(torch.arange(1, N + 1, dtype=torch.float64)[:, None] * (1 + 0.1 * torch.rand(N, D, generator=g,
                                                                                          dtype=torch.float64)))
    Bm, Cm = (torch.randn(L, B, N, generator=g, dtype=torch.float64) for _ in range(2))
    return [u, delta, At, Bm, Cm]


@pytest.mark.parametrize("L,B,D,N,dt_scale", [
    (1, 1, 7, 3, 1.0),        # one token, fewer channels than a vector
    (13, 3, 100, 16, 1.0),    # a channel block and a partial one
    (70, 2, 512, 16, 1.0),    # the co-training stage's length and the tiny preset's width
    (40, 2, 128, 16, 300.0),  # steps so large that delta * A passes -87 (the kernel's exponential clamps there)
])
def test_kernel_matches_the_recurrence(L, B, D, N, dt_scale):
    """The fused kernel (float32) against the recurrence written out in float64, outputs, last state and the
    gradients of all five inputs (realistic step sizes and decay)."""
    assert scan_kernel.load(), f"the fused scan kernel is not available: {scan_kernel._STATE.get('problem')}"
    ref = [a.requires_grad_() for a in scan_inputs(L, B, D, N, seed=L + D, dt_scale=dt_scale)]
    got = [a.detach().float().requires_grad_() for a in ref]
    if dt_scale > 1:
        assert (ref[1][..., None, :] * ref[2]).min() < -87
    y0, last0 = naive_scan(*ref)
    y1, last1 = SelectiveScanFn.apply(*got)
    gy = torch.randn(y0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (y0 * gy).sum().backward()
    (y1 * gy.float()).sum().backward()
    assert close(y1.double(), y0.detach()) and close(last1.double(), last0.detach())
    for name, a, b in zip(("u", "delta", "At", "Bm", "Cm"), got, ref):
        assert close(a.grad.double(), b.grad), name
    with torch.no_grad():  # the inference path (no autograd) gives the same output as the training path
        y2, last2 = fast_mamba.run_scan(*(a.detach() for a in got))
    assert torch.equal(y2, y1.detach()) and torch.equal(last2, last1)


def test_without_the_kernel_the_pytorch_scan_runs_with_one_warning(monkeypatch):
    """A kernel that cannot be built (ROBOMAMBA_SCAN_KERNEL=0, or a compiler error, whose first error line the
    warning quotes) leaves Mamba on the PyTorch scan, with one warning per process, and records it."""
    from agents.robomamba.agent import RoboMambaAgent

    args = [a.float() for a in scan_inputs(9, 2, 70, 4, seed=5)]
    with fast_mamba.pytorch_scan():
        want = fast_mamba.run_scan(*args)
    monkeypatch.setattr(scan_kernel, "_STATE", {})
    monkeypatch.setenv("ROBOMAMBA_SCAN_KERNEL", "0")
    with pytest.warns(scan_kernel.ScanKernelUnavailable, match="ROBOMAMBA_SCAN_KERNEL=0"):
        assert not fast_mamba.kernel_active()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not again
        got = fast_mamba.run_scan(*args)
        assert RoboMambaAgent().runtime() == {"mamba_cpu_scan": "pytorch"}
    assert all(torch.equal(a, b) for a, b in zip(got, want))

    def broken_build():
        raise RuntimeError("Error building extension 'robomamba_scan':\n[1/2] c++ ...\n"
                           "selective_scan.cpp:9:1: error: expected ';' before '}' token\nninja: build stopped")

    monkeypatch.setattr(scan_kernel, "_STATE", {})
    monkeypatch.delenv("ROBOMAMBA_SCAN_KERNEL")
    monkeypatch.setenv("ROBOMAMBA_KERNEL_DIR", str(Path(__file__).parent / "no-such-kernel-dir"))
    monkeypatch.setattr(scan_kernel, "_build", broken_build)
    with pytest.warns(scan_kernel.ScanKernelUnavailable, match="error: expected ';' before"):
        assert scan_kernel.backend() == "pytorch"


def test_scan_kernel_command_reports_its_state():
    env = {**__import__("os").environ, "ROBOMAMBA_SCAN_KERNEL": "0"}
    off = subprocess.run([sys.executable, "-m", "agents.robomamba.scan_kernel", "--no-build"], capture_output=True,
                         text=True, env=env)
    assert off.returncode == 1 and "not available: ROBOMAMBA_SCAN_KERNEL=0" in off.stderr
    env.pop("ROBOMAMBA_SCAN_KERNEL")
    on = subprocess.run([sys.executable, "-m", "agents.robomamba.scan_kernel", "--no-build"], capture_output=True,
                        text=True, env=env)
    assert on.returncode == 0 and str(scan_kernel.build_dir()) in on.stdout, on.stderr


@pytest.mark.parametrize("bias", [True, False])
def test_causal_convolution_is_the_mixers_conv1d(bias):
    """fast_mamba.causal_conv (batch, length, channel) equals the mixer's depthwise Conv1d (padding K - 1,
    cut to the length), gradients included."""
    torch.manual_seed(3)
    conv = torch.nn.Conv1d(6, 6, 4, groups=6, padding=3, bias=bias).double()
    x = torch.randn(2, 9, 6, dtype=torch.float64, requires_grad=True)
    ref = conv(x.transpose(1, 2))[..., :9].transpose(1, 2)
    got = fast_mamba.causal_conv(x, conv.weight, conv.bias)
    assert torch.allclose(got, ref)
    assert torch.autograd.gradcheck(lambda x, w: fast_mamba.causal_conv(x, w, conv.bias), (x, conv.weight))


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


# ------------------------------------------------------------------------ the transformers version guard
PATCHED = ("mamba_selective_scan", "causal_conv1d_update")  # the modeling_mamba globals fast_mamba replaces


def mixer_types(lm):
    return {type(m) for m in lm.modules() if isinstance(m, MambaMixer)}


@pytest.fixture
def fresh():
    """A MonkeyPatch for faking a transformers mismatch, starting as a fresh process would (transformers'
    own functions in modeling_mamba, nothing installed). Afterwards every change is undone and the real
    check runs again, so later tests see the normal state."""
    with pytest.MonkeyPatch.context() as mp:
        for name in PATCHED:
            mp.setattr(modeling_mamba, name, fast_mamba._target(name))
        mp.setattr(fast_mamba, "_ORIGINAL", {})
        yield mp
    assert fast_mamba.check_compatibility() is None and fast_mamba.FAST_PATH_ACTIVE


def check_expecting_one_warning():
    """Run the check; it must fail with exactly one FastMambaUnavailable that carries the problem."""
    with pytest.warns(FastMambaUnavailable) as record:
        problem = fast_mamba.check_compatibility()
    ours = [w for w in record if issubclass(w.category, FastMambaUnavailable)]
    assert len(ours) == 1
    assert problem is not None and problem in str(ours[0].message)
    assert not fast_mamba.FAST_PATH_ACTIVE
    return problem


def test_installed_transformers_passes_the_check(pair):
    _, fast = pair
    with torch.no_grad():
        fast(torch.randint(0, 256, (1, 5)))  # installs the dispatchers; the check must see through them
    assert modeling_mamba.mamba_selective_scan is fast_mamba._dispatch
    assert importlib.metadata.version("transformers") in fast_mamba.VERIFIED_TRANSFORMERS
    assert fast_mamba.compatibility_problem() is None
    assert fast_mamba.FAST_PATH_ACTIVE and uses_fast_cpu_scan(fast)


@pytest.mark.parametrize("installed_before", [False, True])  # as at import / a re-check after patching
def test_version_mismatch_falls_back_to_transformers(pair, fresh, installed_before):
    ref, fast = pair  # fast was enabled while the check still passed
    if installed_before:
        with torch.no_grad():
            fast(torch.randint(0, 256, (1, 5)))
        assert modeling_mamba.mamba_selective_scan is fast_mamba._dispatch
    # the transformers module object fast_mamba reads the version from (importing modeling_mamba puts a
    # new transformers module into sys.modules, so the one imported above may be another object)
    fresh.setattr(fast_mamba.transformers, "__version__", "99.0.0")
    problem = check_expecting_one_warning()
    assert "transformers 99.0.0 is installed" in problem and "5.23.0" in problem
    late = enable_fast_cpu_scan(copy.deepcopy(ref))  # enabling after the failed check changes nothing
    assert mixer_types(late) == {MambaMixer}
    assert not uses_fast_cpu_scan(fast) and not uses_fast_cpu_scan(late)

    calls = []
    for name in ("fast_selective_scan", "conv_update_one_token", "full_sequence_forward"):
        real = getattr(fast_mamba, name)
        fresh.setattr(fast_mamba, name,
                      lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    torch.manual_seed(2)
    ids = torch.randint(0, ref.config.vocab_size, (2, 9))
    outputs = []
    with warnings.catch_warnings(record=True) as later, torch.no_grad():
        warnings.simplefilter("always")
        for lm in (ref, fast, late):
            full = lm.eval()(ids).logits
            assert torch.equal(lm(ids, use_cache=False).logits, full)  # without a cache: transformers' path too
            step = lm(ids[:, :-1], use_cache=True)  # and the cached one-token step
            outputs.append((full, lm(ids[:, -1:], cache_params=step.cache_params, use_cache=True).logits))
    assert not calls  # neither fast function ran
    if not installed_before:  # and nothing was patched
        assert fast_mamba._ORIGINAL == {} and modeling_mamba.mamba_selective_scan is not fast_mamba._dispatch
    assert not [w for w in later if issubclass(w.category, FastMambaUnavailable)]  # no warning per call
    for full, last in outputs[1:]:  # the very same code as transformers' path, so bit for bit equal
        assert torch.equal(full, outputs[0][0]) and torch.equal(last, outputs[0][1])


@pytest.mark.parametrize("name", list(fast_mamba.EXPECTED_SIGNATURES))
def test_signature_mismatch_leaves_transformers_unpatched(fresh, name):
    def changed(hidden_states, weight, new_argument=None):
        raise AssertionError("not to be called")

    owner = modeling_mamba.MambaMixer if name.startswith("MambaMixer.") else modeling_mamba
    fresh.setattr(owner, name.rpartition(".")[2], changed)
    problem = check_expecting_one_warning()
    assert f"modeling_mamba.{name} takes ('hidden_states', 'weight', 'new_argument')" in problem
    before = {n: getattr(modeling_mamba, n) for n in PATCHED}
    lm = build_lm(RoboMambaConfig())  # build_lm enables the fast path where it may
    fast_mamba._install()
    assert mixer_types(lm) == {MambaMixer} and not uses_fast_cpu_scan(lm)
    assert {n: getattr(modeling_mamba, n) for n in PATCHED} == before and fast_mamba._ORIGINAL == {}


def test_missing_function_is_a_mismatch(fresh):
    fresh.delattr(modeling_mamba, "causal_conv1d_update")
    assert "modeling_mamba.causal_conv1d_update no longer exists" in check_expecting_one_warning()


def test_mismatch_at_import_warns_once_per_process():
    """The real entry point: a fresh interpreter that sees another transformers version imports
    fast_mamba through build_lm, runs a model, and gets exactly one warning and transformers' path."""
    code = """if True:
        import sys, warnings
        import torch
        from transformers.models.mamba import modeling_mamba  # (swaps sys.modules["transformers"])
        torch.set_num_threads(1)
        sys.modules["transformers"].__version__ = "99.0.0"  # what fast_mamba's `import transformers` gets
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from agents.robomamba import fast_mamba as fm
            from agents.robomamba.config import RoboMambaConfig
            from agents.robomamba.model import build_lm
            lm = build_lm(RoboMambaConfig())
            with torch.no_grad():
                lm(torch.randint(0, 256, (1, 6)))
        ours = [w for w in caught if issubclass(w.category, fm.FastMambaUnavailable)]
        print(len(ours), fm.FAST_PATH_ACTIVE, fm.uses_fast_cpu_scan(lm), fm._ORIGINAL)
        print(ours[0].message if ours else "")
    """
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    counts, message = run.stdout.splitlines()[-2:]
    assert counts == "1 False False {}"
    assert message.startswith("transformers 99.0.0 is installed, but fast_mamba was verified only with "
                              "5.23.0. The fast CPU Mamba scan is off")
