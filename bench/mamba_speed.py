"""Mamba on the CPU (issue 7): selective-scan candidates, and the tiny Mamba LM vs its Llama twin.

Run by hand (never in CI); numbers on a shared VM are noisy, so every figure is the best of --reps runs
(models interleaved). Two parts:

1. candidates: the tiny Mamba LM at 300 tokens, batch 1, forward and forward+backward, with each way
   of running the selective scan (transformers' reference loop, use_mambapy=True, an autograd token
   loop, a chunked log-space scan, optionally torch.compile of it, the picked fast scan of
   agents/robomamba/fast_mamba.py, and a "no scan" floor that skips the scan: timing only), with the
   largest logit difference to the reference;
2. models: the Mamba LM as build_lm makes it (fast scan) vs the same-size Llama twin: prompt
   processing at --lengths (forward; forward+backward at --train-length), and greedy decoding of
   --decode-tokens after a --decode-context prompt, for each --batches, with analytic FLOPs per token.

    .venv/bin/python bench/mamba_speed.py --quick
    .venv/bin/python bench/mamba_speed.py --markdown out/mamba_speed.md --csv out/mamba_speed.csv
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from infra.cli import check_at_least, option, parse_config  # noqa: E402


# ------------------------------------------------------------------------------- scan candidates
def chunked_core(u, delta, A, Bm, Cm, chunk=32):
    """Log-space chunked scan (autograd): within chunks of `chunk` tokens,
    h_t = exp(S_t) * (h_0 + cumsum_s exp(-S_s) dB_s x_s) with S the cumulative sum of delta*A; the chunk
    states are carried by a short loop over chunks. Safe only while |S| stays small (short chunks)."""
    b, d, L = u.shape
    n = A.shape[1]
    pad = (-L) % chunk
    tm = lambda t: F.pad(t.transpose(1, 2), (0, 0, 0, pad))  # noqa: E731  (B, L + pad, C)
    dT, uT, BT, CT = tm(delta), tm(u), tm(Bm), tm(Cm)
    nc = (L + pad) // chunk
    S = (dT[..., None] * A).view(b, nc, chunk, d, n).cumsum(2)
    eS = S.exp()
    w = ((dT * uT)[..., None] * BT[:, :, None, :]).view(b, nc, chunk, d, n)
    acc = (w * torch.exp(-S)).cumsum(2)
    h, starts = u.new_zeros(b, d, n), []
    for k in range(nc):
        starts.append(h)
        h = eS[:, k, -1] * (h + acc[:, k, -1])
    H = eS * (acc + torch.stack(starts, 1)[:, :, None])
    y = (H.view(b, nc * chunk, d, n) @ CT[..., None])[:, :L, :, 0]
    return y.transpose(1, 2), H.view(b, nc * chunk, d, n)[:, L - 1]


def loop_core(u, delta, A, Bm, Cm):
    """Token loop with autograd, but unbinding the sequence once (transformers slices per token)."""
    dT = delta.transpose(1, 2)
    decay = torch.exp(dT[..., None] * A)
    inp = (dT * u.transpose(1, 2))[..., None] * Bm.transpose(1, 2)[:, :, None, :]
    h, hs = torch.zeros_like(inp[:, 0]), []
    for a, x in zip(decay.unbind(1), inp.unbind(1)):
        h = torch.addcmul(x, a, h)
        hs.append(h)
    y = torch.stack(hs, 1) @ Cm.transpose(1, 2)[..., None]
    return y[..., 0].transpose(1, 2), h


def no_scan_core(u, delta, A, Bm, Cm):
    """Not a scan: the timing floor of everything around it (wrong outputs)."""
    return u, u.new_zeros(u.shape[0], u.shape[1], A.shape[1])


def as_scan(core):
    """Wrap a core (u, delta, A, B, C) -> (y, last state) in transformers' mamba_selective_scan signature."""
    def scan(hidden_states, dt, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
             return_last_state=False, **kwargs):
        from agents.robomamba.fast_mamba import gated_output, step_sizes

        dt = step_sizes(dt, delta_bias, delta_softplus)
        y, last = core(hidden_states.float(), dt.float(), A.float(), B.float(), C.float())
        y = gated_output(y, hidden_states, D, z)
        return (y, last) if return_last_state else y
    return scan


@contextlib.contextmanager
def scan_impl(fn):
    """Temporarily route enabled mixers' CPU scan to `fn` (None: the picked fast scan)."""
    from agents.robomamba import fast_mamba

    saved = fast_mamba.fast_selective_scan
    if fn is not None:
        fast_mamba.fast_selective_scan = fn
    try:
        yield
    finally:
        fast_mamba.fast_selective_scan = saved


# ------------------------------------------------------------------------------------ FLOPs
def flops_per_token(lm, context: int) -> dict:
    """Analytic forward FLOPs per token (multiply-add = 2), lm head included; `context` = mean number of
    tokens attended to (Llama; (L + 1) / 2 for a causal prompt of L, the cache length when decoding).
    Mamba's scan: ~9 per state element (discretise 3, input 2, recurrence 2, read-out 2)."""
    c = lm.config
    d, V, n_layers = c.hidden_size, c.vocab_size, c.num_hidden_layers
    if c.model_type == "mamba":
        e, n, r, k = c.intermediate_size, c.state_size, int(c.time_step_rank), c.conv_kernel
        per = 2 * d * 2 * e + 2 * e * k + 2 * e * (r + 2 * n) + 2 * r * e + 9 * e * n + 6 * e + 2 * e * d
    else:
        i = c.intermediate_size
        per = 8 * d * d + 6 * d * i + 4 * d * context
    return {"flops": int(n_layers * per + 2 * d * V)}


# ------------------------------------------------------------------------------------ timing
def best_of(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def fwd(lm, ids):
    lm.eval()
    with torch.no_grad():
        lm(ids)


def fwd_bwd(lm, ids):
    lm.train()
    lm.zero_grad(set_to_none=True)
    lm(ids).logits.float().square().mean().backward()


def decode_time(lm, prompt, new_tokens: int, reps: int) -> float:
    """Seconds for the `new_tokens - 1` cached greedy steps of generate() after the prompt pass: the time
    between the logits-processor calls of the first and of the last new token (prefill excluded)."""
    from transformers import LogitsProcessorList

    stamps: list[float] = []

    def stamp(input_ids, scores):
        stamps.append(time.perf_counter())
        return scores

    lm.eval()
    best = float("inf")
    with torch.no_grad():
        for _ in range(reps):
            stamps.clear()
            lm.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                        pad_token_id=0, logits_processor=LogitsProcessorList([stamp]))
            best = min(best, stamps[-1] - stamps[0])
    return best


# ------------------------------------------------------------------------------------ parts
def candidates(cfg, rows):
    from agents.robomamba.config import RoboMambaConfig
    from agents.robomamba.fast_mamba import disable_fast_cpu_scan
    from agents.robomamba.model import build_lm

    torch.manual_seed(0)
    fast = build_lm(RoboMambaConfig())
    ids = torch.randint(0, fast.config.vocab_size, (1, cfg.train_length))
    ref = disable_fast_cpu_scan(build_lm(RoboMambaConfig()))
    ref.load_state_dict(fast.state_dict())
    with torch.no_grad():
        ref.eval()
        ref_logits = ref(ids).logits
    cands = [("transformers reference loop", ref, None), ("use_mambapy=True", None, None),
             ("autograd token loop (unbind once)", fast, as_scan(loop_core)),
             ("chunked log-space cumsum, 32 tokens", fast, as_scan(chunked_core)),
             ("picked: blocked in-place scan + hand backward", fast, None),
             ("no scan (floor, wrong outputs)", fast, as_scan(no_scan_core))]
    if cfg.compile:
        cands.insert(4, ("torch.compile(chunked)", fast, as_scan(torch.compile(chunked_core, dynamic=False))))
    for name, lm, fn in cands:
        note = ""
        if name.startswith("use_mambapy"):
            from transformers.utils.import_utils import is_mambapy_available

            lm = disable_fast_cpu_scan(build_lm(RoboMambaConfig()))
            lm.load_state_dict(fast.state_dict())
            for layer in lm.backbone.layers:
                layer.mixer.use_mambapy = True
            if not is_mambapy_available():
                note = "mambapy not installed: this is the reference loop"
        with scan_impl(fn):
            t0 = time.perf_counter()
            with torch.no_grad():
                lm.eval()
                diff = (lm(ids).logits - ref_logits).abs().max().item()
            first = time.perf_counter() - t0
            f = best_of(lambda lm=lm: fwd(lm, ids), cfg.reps)
            fb = best_of(lambda lm=lm: fwd_bwd(lm, ids),
                         1 if name.startswith(("transformers", "use_mambapy")) else cfg.reps)
        rows.append(dict(part="candidates", task=f"scan candidate: {name}", model="mamba", batch=1,
                         tokens=cfg.train_length, fwd_ms=f * 1e3, fwd_bwd_ms=fb * 1e3,
                         max_abs_logit_diff=diff, first_call_s=first, note=note))
        print(f"  {name:48s} fwd {f * 1e3:8.1f} ms  fwd+bwd {fb * 1e3:9.1f} ms  max|dlogit| {diff:.1e}  {note}",
              flush=True)


def models(cfg, lengths, batches, rows):
    from agents.robomamba.config import RoboMambaConfig
    from agents.robomamba.model import build_lm

    torch.manual_seed(0)
    lms = {t: build_lm(RoboMambaConfig(lm_type=t)) for t in ("mamba", "llama")}
    for t, lm in lms.items():
        print(f"  {t}: {sum(p.numel() for p in lm.parameters()) / 1e6:.3f} M parameters", flush=True)
    V = lms["mamba"].config.vocab_size

    def run(task, batch, tokens, fn, per_token_tokens, context):
        out = {}
        for t, lm in lms.items():
            sec = fn(lm)
            fl = flops_per_token(lm, context)["flops"]
            out[t] = sec
            rows.append(dict(part="models", task=task, model=t, batch=batch, tokens=tokens, ms=sec * 1e3,
                             tokens_per_s=per_token_tokens / sec, flops_per_token=fl,
                             gflops_per_s=fl * per_token_tokens / sec / 1e9))
        ratio = out["llama"] / out["mamba"]
        rows[-2]["mamba_speedup"] = rows[-1]["mamba_speedup"] = ratio
        print(f"  {task:28s} batch {batch:3d} tokens {tokens:5d}: mamba {out['mamba'] * 1e3:9.1f} ms  "
              f"llama {out['llama'] * 1e3:9.1f} ms  mamba speed-up x{ratio:.2f}", flush=True)

    for batch in batches:
        for L in lengths:
            if batch * L > cfg.max_tokens:
                print(f"  skip forward batch {batch} x {L} tokens (> --max-tokens {cfg.max_tokens})")
                continue
            ids = torch.randint(0, V, (batch, L))
            run("forward", batch, L, lambda lm, ids=ids: best_of(lambda: fwd(lm, ids), cfg.reps),
                batch * L, (L + 1) / 2)
        if batch * cfg.train_length <= cfg.max_tokens:
            ids = torch.randint(0, V, (batch, cfg.train_length))
            run("forward+backward", batch, cfg.train_length,
                lambda lm, ids=ids: best_of(lambda: fwd_bwd(lm, ids), cfg.reps), batch * cfg.train_length,
                (cfg.train_length + 1) / 2)
        if batch * cfg.decode_context <= cfg.max_tokens:
            prompt = torch.randint(1, V, (batch, cfg.decode_context))
            run(f"decode {cfg.decode_tokens} after {cfg.decode_context}", batch, cfg.decode_tokens,
                lambda lm, prompt=prompt: decode_time(lm, prompt, cfg.decode_tokens, cfg.reps),
                batch * (cfg.decode_tokens - 1), cfg.decode_context)
        else:
            print(f"  skip decoding batch {batch} (prompt {batch} x {cfg.decode_context} > --max-tokens)")


# ------------------------------------------------------------------------------------ output
def write(rows, cfg):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    if cfg.csv:
        Path(cfg.csv).parent.mkdir(parents=True, exist_ok=True)
        with open(cfg.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = []
    for part in ("candidates", "models"):
        sub = [r for r in rows if r["part"] == part]
        if not sub:
            continue
        cols = [k for k in keys if k != "part" and any(k in r for r in sub)]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(fmt(r.get(k, "")) for k in cols) + " |" for r in sub] + [""]
    text = "\n".join(lines)
    print(text)
    if cfg.markdown:
        Path(cfg.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.markdown).write_text(text)


@dataclass
class MambaSpeedConfig:
    threads: int = option(2, "torch.set_num_threads")
    reps: int = option(3, "timed repetitions per figure, best kept")
    train_length: int = option(300, "forward+backward length")
    decode_context: int = option(2048, "prompt length before greedy decoding")
    decode_tokens: int = option(64, "greedily decoded tokens (>= 2: timed from the first to the last)")
    max_tokens: int = option(16 * 2048, "skip runs with batch x tokens above this (16 x 4K is skipped)")
    compile: bool = option(False, "also time torch.compile of the chunked scan (slow to build)")
    mambapy_path: str | None = option(None, "a directory holding the mambapy package (for the use_mambapy candidate)")
    skip_candidates: bool = option(False, "skip part 1, the scan candidates")
    skip_models: bool = option(False, "skip part 2, the Mamba LM vs its Llama twin")
    quick: bool = option(False, "lengths 300 1000, batch 1 and 16 capped at 16K tokens, 2 reps")
    csv: str | None = option(None, "also write the rows to this CSV file")
    markdown: str | None = option(None, "also write the tables to this Markdown file")
    lengths: tuple[int, ...] = option((300, 1000, 4000), "prompt lengths (forward)")
    batches: tuple[int, ...] = option((1, 16), "batch sizes")

    def __post_init__(self):
        check_at_least(self, threads=1, reps=1, train_length=1, decode_context=1, decode_tokens=2, max_tokens=1,
                       lengths=1, batches=1)


def main(argv=None) -> int:
    cfg, _ = parse_config(MambaSpeedConfig, argv, "python bench/mamba_speed.py", __doc__.split("\n\n")[0])
    lengths = list(cfg.lengths)
    if cfg.quick:
        lengths, cfg = [300, 1000], dataclasses.replace(cfg, reps=2, max_tokens=16 * 1024)
    if cfg.mambapy_path:
        sys.path.insert(0, cfg.mambapy_path)
    torch.set_num_threads(cfg.threads)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    rows: list[dict] = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {cfg.reps}")
    if not cfg.skip_candidates:
        print("scan candidates (tiny Mamba LM, batch 1):")
        candidates(cfg, rows)
    if not cfg.skip_models:
        print("Mamba (fast scan) vs Llama twin:")
        models(cfg, lengths, cfg.batches, rows)
    write(rows, cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
