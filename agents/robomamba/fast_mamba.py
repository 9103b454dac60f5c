"""A fast CPU selective scan for transformers' Mamba (issue 7).

Without the mamba-ssm CUDA kernels, transformers' ``MambaMixer`` runs its reference
``mamba_selective_scan``: a Python loop over tokens that slices the (B, D, L, N) discretised tensors
one token at a time. Forward is slow-ish; backward is very slow, because autograd turns every
per-token slice into a full-size zero tensor (quadratic in the length).

This module replaces, only on the CPU and only inside mixers of models passed to
:func:`enable_fast_cpu_scan`:

* the full-sequence scan (:func:`fast_selective_scan`): the recurrence
  ``h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t`` runs in place, block by block (a few dozen tokens whose
  (N, D) states fill about 1 MiB, so the work stays in cache), one ``addcmul_`` per token; the read-out
  ``y_t = C_t . h_t`` is one batched matmul per block. Backward is written by hand
  (:class:`SelectiveScanFn`): the same recurrence in reverse plus batched contractions, instead of an
  autograd graph of ~1000 tiny nodes per layer;
* the one-token convolution of cached decoding (:func:`conv_update_one_token`): a multiply-sum over
  the 4-token window instead of a conv1d call;
* (issue 29) the scan itself as one fused C++ call per layer, forward and backward, where the kernel
  of :mod:`agents.robomamba.scan_kernel` is built (``scripts/setup.sh`` builds it; otherwise one warning and
  the PyTorch scan above): the state stays in the L1 cache across tokens and the exponential is computed
  inline, so neither the decays nor the states are ever written to memory (backward recomputes them per
  channel block); 2-4x faster than the PyTorch scan (bench/scan_kernel.py). :func:`pytorch_scan` switches
  it off for a block of code;
* (issue 29) the whole mixer over a full sequence without a cache (:func:`full_sequence_forward`: the
  policy's forward and training): kept in the (batch, length, channel) layout from the input to the
  output projection, the causal convolution as four multiply-adds (:func:`causal_conv`), the step
  sizes' projection and bias in one ``linear``, then the scan above. transformers' mixer transposes to
  (batch, channel, length) and back, and its conv1d fallback costs ~0.15 ms a call on the CPU.

Results equal the reference up to float32 rounding (the recurrence does the same multiply-adds in the
same order; tests/test_fast_mamba.py checks 1e-4 of the largest value, measured ~1e-6; the full-sequence
mixer sums the convolution and the step-size bias in another order: ~2e-6 of the largest logit). With a
cache (prompt processing for ``generate()``, the one-token state update, cache bookkeeping) the mixer is
transformers' own code around the replaced functions. On CUDA, or for models not enabled, calls go to
transformers' functions unchanged (mamba-ssm's kernels where installed).

A chunked log-space scan (cumulative sums of dt*A per chunk) was measured too: slower on this CPU and
it overflows (exp(-cumsum) > float32 range) once dt*|A| summed over a chunk passes ~88, which random
initialisations already reach. See bench/mamba_speed.py and bench/README.md.

Version guard: the dispatchers replace module globals of transformers' ``modeling_mamba`` and rely on how
``MambaMixer.forward`` calls them, which transformers may change in any release. At import,
:func:`check_compatibility` compares the installed transformers version with ``VERIFIED_TRANSFORMERS``
and the parameter names of every function the fast path replaces or runs inside with
``EXPECTED_SIGNATURES``. On any difference nothing is patched, :func:`enable_fast_cpu_scan` leaves models
alone, and one :class:`FastMambaUnavailable` warning says what differed; Mamba mixers then run
transformers' own code (correct, slower on the CPU). After re-verifying a new transformers
(tests/test_fast_mamba.py), add its version to ``VERIFIED_TRANSFORMERS``.
"""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import warnings

import torch
import torch.nn.functional as F
import transformers
from transformers.models.mamba import modeling_mamba
from transformers.models.mamba.modeling_mamba import MambaMixer

from agents.robomamba import scan_kernel

_ACTIVE = contextvars.ContextVar("robomamba_fast_cpu_scan", default=False)
_ORIGINAL: dict = {}  # transformers' functions that the dispatchers replace (CUDA / not-enabled models use them)


# ------------------------------------------------------------------------------------------ the scan
BLOCK_ELEMENTS = 2**18  # tokens per block: about this many state elements (1 MiB float32), cache-sized


def _block_tokens(batch: int, inner: int, state: int) -> int:
    return max(1, BLOCK_ELEMENTS // (batch * inner * state))


def _recurrence(decay: torch.Tensor, states: torch.Tensor, reverse: bool = False) -> None:
    """In place along dim 0: states[t] += decay[t] * states[t - 1] (forward), or
    states[t] += decay[t + 1] * states[t + 1] (reverse)."""
    a, h = decay.unbind(0), states.unbind(0)
    if reverse:
        for t in range(len(h) - 2, -1, -1):
            h[t].addcmul_(a[t + 1], h[t + 1])
    else:
        for t in range(1, len(h)):
            h[t].addcmul_(a[t], h[t - 1])


def scan_forward(u, delta, At, Bm, Cm, states=None):
    """The selective scan, token-major: u, delta (L, B, D); At = A transposed (N, D); Bm, Cm (L, B, N),
    float32; states are (B, N, D) per token, so every broadcast runs along the long inner dimension D.

    h[t] = exp(delta[t, :, None] * At) * h[t - 1] + Bm[t, :, :, None] * (delta u)[t, :, None], h[-1] = 0;
    y[t, b] = Cm[t, b] @ h[t, b]. Works block by block (a few dozen tokens) in reused cache-sized buffers;
    ``states`` (L, B, N, D), if given, receives every h (for backward). Returns (y (L, B, D), h[L - 1])."""
    L, batch, inner = u.shape
    N = At.shape[0]
    T = min(L, _block_tokens(batch, inner, N))
    du = (delta * u).unsqueeze(2)
    y = u.new_empty(L, batch, inner)
    decay = u.new_empty(T, batch, N, inner)
    work = None if states is not None else torch.empty_like(decay)
    carry = None
    for i in range(0, L, T):
        j = min(i + T, L)
        a = torch.mul(delta[i:j].unsqueeze(2), At, out=decay[: j - i]).exp_()
        h = states[i:j] if states is not None else work[: j - i]
        torch.mul(Bm[i:j].unsqueeze(-1), du[i:j], out=h)
        if carry is not None:
            h[0].addcmul_(a[0], carry)
        _recurrence(a, h)
        torch.bmm(Cm[i:j].flatten(0, 1).unsqueeze(1), h.flatten(0, 1), out=y[i:j].flatten(0, 1).unsqueeze(1))
        carry = h[-1].clone()
    return y, carry


def scan_backward(gy, u, delta, At, Bm, Cm, states):
    """Gradients of sum(gy * y) for :func:`scan_forward` w.r.t. (u, delta, At, Bm, Cm), given all states.

    dL/dh[t] = Cm[t] gy[t] + exp(delta[t+1] At) dL/dh[t+1] (the recurrence in reverse), then
    dL/d(delta At)[t] = dL/dh[t] h[t-1] exp(delta[t] At), and dL/d(delta u), dL/dBm, dL/dCm by contractions.
    Blocks run last to first; the decay is recomputed per block instead of stored."""
    L, batch, inner = u.shape
    N = At.shape[0]
    T = min(L, _block_tokens(batch, inner, N))
    du = delta * u
    g_du, gB, gC = torch.empty_like(u), torch.empty_like(Bm), torch.empty_like(Cm)
    gAt = torch.zeros_like(At)
    glog_A = torch.empty_like(u)  # sum_n dL/d(delta At) * At
    decay = u.new_empty(T, batch, N, inner)
    gh_buf = torch.empty_like(decay)
    flat = lambda t: t.flatten(0, 1)  # noqa: E731
    carry_a = carry_g = None
    for i in reversed(range(0, L, T)):
        j = min(i + T, L)
        a = torch.mul(delta[i:j].unsqueeze(2), At, out=decay[: j - i]).exp_()
        g = torch.mul(Cm[i:j].unsqueeze(-1), gy[i:j].unsqueeze(2), out=gh_buf[: j - i])
        if carry_g is not None:
            g[-1].addcmul_(carry_a, carry_g)
        _recurrence(a, g, reverse=True)
        carry_a, carry_g = a[0].clone(), g[0].clone()
        h = states[i:j]
        torch.bmm(flat(h), flat(gy[i:j]).unsqueeze(-1), out=flat(gC[i:j]).unsqueeze(-1))
        torch.bmm(flat(Bm[i:j]).unsqueeze(1), flat(g), out=flat(g_du[i:j]).unsqueeze(1))
        torch.bmm(flat(g), flat(du[i:j]).unsqueeze(-1), out=flat(gB[i:j]).unsqueeze(-1))
        g[1:].mul_(h[:-1])  # g becomes dL/d(delta At)
        if i:
            g[0].mul_(states[i - 1])
        else:
            g[0].zero_()
        g.mul_(a)
        gAt.add_((g * delta[i:j].unsqueeze(2)).sum((0, 1)))
        torch.sum(g.mul_(At), 2, out=glog_A[i:j])
    return g_du * delta, glog_A.add_(g_du * u), gAt, gB, gC


class SelectiveScanFn(torch.autograd.Function):
    """Autograd wrapper of the scan (token-major float32 inputs): the fused kernel's forward and backward
    (:mod:`agents.robomamba.scan_kernel`) where it is loaded, else :func:`scan_forward` /
    :func:`scan_backward`. Returns (y, last state); the last state is not differentiable."""

    @staticmethod
    def forward(ctx, u, delta, At, Bm, Cm):
        ctx.kernel = kernel_active(u)
        if ctx.kernel:  # the kernel's backward recomputes the states
            y, last = scan_kernel.scan_fwd(u, delta, At, Bm, Cm)
            ctx.save_for_backward(u, delta, At, Bm, Cm)
        else:
            states = u.new_empty(u.shape[0], u.shape[1], At.shape[0], u.shape[2])
            y, last = scan_forward(u, delta, At, Bm, Cm, states)
            ctx.save_for_backward(u, delta, At, Bm, Cm, states)
        ctx.mark_non_differentiable(last)
        return y, last

    @staticmethod
    def backward(ctx, gy, _glast):
        if ctx.kernel:
            return scan_kernel.scan_bwd(gy.contiguous(), *ctx.saved_tensors)
        return scan_backward(gy.contiguous(), *ctx.saved_tensors)


_PYTORCH_SCAN = contextvars.ContextVar("robomamba_pytorch_scan", default=False)


def kernel_active(u: torch.Tensor | None = None) -> bool:
    """Whether scans in this context run the fused kernel (loaded, and not switched off by
    :func:`pytorch_scan`); given the scan's input `u`, only for float32 (the float64 gradcheck runs the
    PyTorch scan)."""
    return (u is None or u.dtype == torch.float32) and not _PYTORCH_SCAN.get() and scan_kernel.load()


@contextlib.contextmanager
def pytorch_scan():
    """Within this block, scans run the PyTorch implementation even where the kernel is loaded (the
    equivalence tests and benchmarks compare the two)."""
    token = _PYTORCH_SCAN.set(True)
    try:
        yield
    finally:
        _PYTORCH_SCAN.reset(token)


def run_scan(u, delta, At, Bm, Cm):
    """The selective scan on token-major float32 inputs (see :func:`scan_forward`): (y, last state), through
    autograd when an input needs a gradient, by the fused kernel where it is loaded."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, At, Bm, Cm)):
        return SelectiveScanFn.apply(u, delta, At, Bm, Cm)
    if kernel_active(u):  # inference: no (L, B, N, D) buffer at all
        return scan_kernel.scan_fwd(u, delta, At, Bm, Cm)
    return scan_forward(u, delta, At, Bm, Cm)


def step_sizes(dt, delta_bias=None, delta_softplus=False):
    """The scan's step sizes, as the reference computes them: dt (+ bias), through softplus if asked."""
    if delta_bias is not None:
        dt = dt + delta_bias.to(dt.dtype)[..., None]
    return F.softplus(dt) if delta_softplus else dt


def gated_output(y, hidden_states, D=None, z=None):
    """The scan's output with the reference's skip connection (D) and gate (silu(z))."""
    if D is not None:
        y = y + hidden_states * D[None, :, None]
    return y * F.silu(z) if z is not None else y


def fast_selective_scan(hidden_states, dt, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                        return_last_state=False, **kwargs):
    """Drop-in for transformers' ``mamba_selective_scan`` (same arguments and layout: hidden_states, dt,
    z (B, D, L); A (D, N); B, C (B, N, L)), computed in float32 like the reference."""
    dt = step_sizes(dt, delta_bias, delta_softplus)
    tok = lambda t: t.float().permute(2, 0, 1).contiguous()  # noqa: E731  (B, C, L) -> (L, B, C)
    args = (tok(hidden_states), tok(dt), A.float().t().contiguous(), tok(B), tok(C))
    y, last = run_scan(*args)
    y = gated_output(y.permute(1, 2, 0), hidden_states, D, z)
    return (y, last.transpose(1, 2)) if return_last_state else y


def causal_conv(x, weight, bias=None):
    """The mixer's depthwise causal convolution in the (batch, length, channel) layout: x (B, L, D),
    weight (D, 1, K) -> (B, L, D), out[t] = bias + sum_k weight[k] x[t - K + 1 + k] (zeros before the
    start), as K multiply-adds instead of a conv1d call (whose CPU path is slow for one channel per group)."""
    K, L = weight.shape[-1], x.shape[1]
    xp = F.pad(x, (0, 0, K - 1, 0))
    w = weight[:, 0]
    out = xp[:, :L] * w[:, 0] if bias is None else torch.addcmul(bias, xp[:, :L], w[:, 0])
    for k in range(1, K):
        out = torch.addcmul(out, xp[:, k: k + L], w[:, k])
    return out


def full_sequence_forward(mixer, hidden_states, attention_mask=None):
    """``MambaMixer.forward`` over a whole sequence without a cache, kept in the (batch, length, channel)
    layout from the input projection to the output projection: the reference's computation (padding
    mask, causal convolution, selective scan in float32, skip connection and gate) in a third of its
    operators, with no layout copies at batch 1 (bench/README.md, "Where robomamba's act() time goes")."""
    dtype = hidden_states.dtype
    mask = None
    if attention_mask is not None and not bool(attention_mask.all()):  # all ones: multiplying changes nothing
        mask = attention_mask[:, :, None]
        hidden_states = (hidden_states * mask).to(dtype)
    x, z = mixer.in_proj(hidden_states).chunk(2, dim=-1)
    x = modeling_mamba.ACT2FN[mixer.activation](causal_conv(x, mixer.conv1d.weight, mixer.conv1d.bias))
    if mask is not None:
        x = (x * mask).to(dtype)
    dt, Bm, Cm = torch.split(mixer.x_proj(x), [mixer.time_step_rank, mixer.ssm_state_size, mixer.ssm_state_size],
                             dim=-1)
    bias = mixer.dt_proj.bias.float() if mixer.dt_proj.bias is not None else None
    dt = F.softplus(F.linear(dt.float(), mixer.dt_proj.weight.float(), bias))
    tok = lambda t: t.float().transpose(0, 1).contiguous()  # noqa: E731  (B, L, C) -> (L, B, C); free at B = 1
    args = (tok(x), tok(dt), (-torch.exp(mixer.A_log.float())).t().contiguous(), tok(Bm), tok(Cm))
    y = run_scan(*args)[0]
    y = torch.addcmul(y.transpose(0, 1), x, mixer.D.float()) * F.silu(z)
    return mixer.out_proj(y.to(dtype))


def _fast_here(hidden_states, kwargs) -> bool:
    return (FAST_PATH_ACTIVE and _ACTIVE.get() and hidden_states.device.type == "cpu"
            and kwargs.get("cu_seqlens") is None and kwargs.get("seq_idx") is None
            and not torch.compiler.is_compiling())


def _dispatch(hidden_states, *args, **kwargs):
    """What MambaMixer calls for a full sequence: the fast scan for enabled mixers on the CPU,
    transformers' function otherwise."""
    if _fast_here(hidden_states, kwargs):
        return fast_selective_scan(hidden_states, *args, **kwargs)
    return _ORIGINAL["mamba_selective_scan"](hidden_states, *args, **kwargs)


def conv_update_one_token(hidden_states, conv_state, weight, bias=None, activation=None):
    """transformers' ``causal_conv1d_update`` for one new token (decoding) as a multiply-sum over the
    window instead of a conv1d call (a conv1d costs ~0.1 ms of fixed overhead on the CPU)."""
    window = torch.cat([conv_state, hidden_states], dim=-1).to(weight.dtype)  # (B, D, state_len + 1)
    conv_state.copy_(window[:, :, -conv_state.shape[-1]:])
    out = (window[:, :, -weight.shape[-1]:] * weight).sum(-1, keepdim=True)
    if bias is not None:
        out = out + bias[:, None]
    if activation is not None:
        out = modeling_mamba.ACT2FN[activation](out)
    return out.to(hidden_states.dtype)


def _dispatch_conv_update(hidden_states, conv_state, weight, bias=None, activation=None, **kwargs):
    """What MambaMixer calls for one cached token: :func:`conv_update_one_token` for enabled mixers on
    the CPU, transformers' function otherwise."""
    if (_fast_here(hidden_states, kwargs) and hidden_states.shape[-1] == 1 and weight.dim() == 2
            and conv_state.shape[-1] >= weight.shape[-1] - 1):
        return conv_update_one_token(hidden_states, conv_state, weight, bias, activation)
    return _ORIGINAL["causal_conv1d_update"](hidden_states, conv_state, weight, bias, activation, **kwargs)


# ------------------------------------------------------------------------------------ version guard
VERIFIED_TRANSFORMERS = ("5.23.0",)  # transformers releases this module was tested against (pyproject pin)

# The transformers functions the fast path replaces or runs inside (names relative to modeling_mamba),
# with the parameter names the dispatchers and FastCPUMambaMixer were written for.
EXPECTED_SIGNATURES = {
    "mamba_selective_scan": ("hidden_states", "dt", "A", "B", "C", "D", "z", "delta_bias", "delta_softplus",
                             "return_last_state", "use_mambapy", "use_associative_scan", "kwargs"),
    "causal_conv1d_update": ("hidden_states", "conv_state", "weight", "bias", "activation"),
    "MambaMixer.forward": ("self", "hidden_states", "cache_params", "attention_mask", "kwargs"),
}

FAST_PATH_ACTIVE = False  # set by check_compatibility(): whether enabled mixers take the fast path


class FastMambaUnavailable(UserWarning):
    """The installed transformers differs from the one fast_mamba was verified with, so the fast CPU
    scan is switched off and Mamba mixers run transformers' own code."""


def _target(name: str):
    """The transformers object ``modeling_mamba.<name>`` (None if missing); where our dispatcher already
    sits in its place, the transformers function behind it."""
    obj = modeling_mamba
    for part in name.split("."):
        obj = getattr(obj, part, None)
    if obj is _dispatch or obj is _dispatch_conv_update:
        return _ORIGINAL.get(name)
    return obj


def compatibility_problem() -> str | None:
    """What keeps the fast path off with the transformers loaded now, as a sentence, or None if nothing:
    its version must be in VERIFIED_TRANSFORMERS, and each function in EXPECTED_SIGNATURES must exist and
    take exactly the recorded parameter names (in order)."""
    version = transformers.__version__
    if version not in VERIFIED_TRANSFORMERS:
        return (f"transformers {version} is installed, but fast_mamba was verified only with "
                f"{', '.join(VERIFIED_TRANSFORMERS)}")
    for name, expected in EXPECTED_SIGNATURES.items():
        target = _target(name)
        if target is None:
            return f"transformers' modeling_mamba.{name} no longer exists"
        try:
            found = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            found = "an unreadable signature"
        if found != expected:
            return f"transformers' modeling_mamba.{name} takes {found}, fast_mamba expects {expected}"
    return None


def check_compatibility() -> str | None:
    """Run :func:`compatibility_problem`, set ``FAST_PATH_ACTIVE`` from it and, if there is a problem, warn
    once with :class:`FastMambaUnavailable`. Runs when this module is imported (so once per process);
    returns the problem."""
    global FAST_PATH_ACTIVE
    problem = compatibility_problem()
    FAST_PATH_ACTIVE = problem is None
    if problem is not None:
        warnings.warn(f"{problem}. The fast CPU Mamba scan is off: Mamba mixers run transformers' own "
                      "(slower) code. Re-run tests/test_fast_mamba.py against this transformers and update "
                      "VERIFIED_TRANSFORMERS / EXPECTED_SIGNATURES in agents/robomamba/fast_mamba.py.",
                      FastMambaUnavailable, stacklevel=2)
    return problem


# ------------------------------------------------------------------------------------ integration
def _install() -> None:
    """Point transformers' module-level scan and one-token convolution at the dispatchers (once per
    process; both only act inside enabled mixers). Does nothing if the version guard failed."""
    if FAST_PATH_ACTIVE and not _ORIGINAL:
        _ORIGINAL["mamba_selective_scan"] = modeling_mamba.mamba_selective_scan
        _ORIGINAL["causal_conv1d_update"] = modeling_mamba.causal_conv1d_update
        modeling_mamba.mamba_selective_scan = _dispatch
        modeling_mamba.causal_conv1d_update = _dispatch_conv_update


class FastCPUMambaMixer(MambaMixer):
    """transformers' MambaMixer that runs :func:`full_sequence_forward` on the CPU when there is no cache,
    and otherwise transformers' forward with the fast scan and one-token convolution (same parameters and
    state dict; a plain subclass, so deepcopy and pickling work)."""

    def forward(self, hidden_states, cache_params=None, attention_mask=None, **kwargs):
        _install()
        if (cache_params is None and not kwargs and FAST_PATH_ACTIVE and hidden_states.device.type == "cpu"
                and not torch.compiler.is_compiling()):
            return full_sequence_forward(self, hidden_states, attention_mask)
        token = _ACTIVE.set(True)
        try:
            return super().forward(hidden_states, cache_params=cache_params, attention_mask=attention_mask, **kwargs)
        finally:
            _ACTIVE.reset(token)


def enable_fast_cpu_scan(model: torch.nn.Module) -> torch.nn.Module:
    """Make every transformers MambaMixer inside ``model`` use the fast CPU scan (in place, by switching
    the mixers' class; returns the model). Models without Mamba mixers (e.g. the Llama twin), and every
    model when the installed transformers failed :func:`check_compatibility`, are returned unchanged.
    Parameters, state dict and the CUDA path are untouched."""
    if not FAST_PATH_ACTIVE:
        return model
    for m in model.modules():
        if type(m) is MambaMixer:
            _install()
            m.__class__ = FastCPUMambaMixer
    return model


def disable_fast_cpu_scan(model: torch.nn.Module) -> torch.nn.Module:
    """Undo :func:`enable_fast_cpu_scan` (back to transformers' reference scan)."""
    for m in model.modules():
        if type(m) is FastCPUMambaMixer:
            m.__class__ = MambaMixer
    return model


def uses_fast_cpu_scan(model: torch.nn.Module) -> bool:
    """True if ``model`` has Mamba mixers and all of them take the fast CPU path."""
    mixers = [m for m in model.modules() if isinstance(m, MambaMixer)]
    return FAST_PATH_ACTIVE and bool(mixers) and all(type(m) is FastCPUMambaMixer for m in mixers)


check_compatibility()
