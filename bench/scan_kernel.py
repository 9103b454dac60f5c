"""The fused CPU selective scan (agents/robomamba/csrc/selective_scan.cpp) against the PyTorch scan it
replaces (issue 29). Run by hand:

    .venv/bin/python bench/scan_kernel.py --reps 15

One Mamba layer's scan at the tiny preset's width (512 channels, state 16) and the shapes that matter:
act() at batch 1 (61 tokens: 49 image + 12 text), a 300-token forward, and the co-training stage's batch
(16 x 70). Forward alone (no autograd: act()) and forward + backward (training), one thread, the two
scans interleaved, median of --reps; and each one's largest difference to the recurrence computed in
float64 (outputs and the five gradients, relative to the largest reference value). Writes --out (CSV,
atomic) and prints a Markdown table.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import ConfigBase, check_at_least, option, parse_config  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402


@dataclass
class ScanBenchConfig(ConfigBase):
    shapes: str = option("1x61,1x300,16x70", "comma-separated BATCHxTOKENS shapes")
    channels: int = option(512, "channels (the tiny preset's d_inner)")
    state: int = option(16, "state size")
    reps: int = option(15, "timed repetitions (median kept)")
    threads: int = option(1, "torch threads")
    out: str = option("results/bench/scan_kernel.csv", "CSV of the timings")

    def __post_init__(self):
        check_at_least(self, channels=1, state=1, reps=1, threads=1)


def inputs(L: int, B: int, D: int, N: int) -> list[torch.Tensor]:
    """float64 inputs as a Mamba layer makes them (A = -(1..N), softplus step sizes around 0.01-0.1)."""
    g = torch.Generator().manual_seed(L * B)
    delta = torch.nn.functional.softplus(torch.randn(L, B, D, generator=g, dtype=torch.float64) - 3)
    At = -torch.arange(1, N + 1, dtype=torch.float64)[:, None].expand(N, D).contiguous()
    return [torch.randn(L, B, D, generator=g, dtype=torch.float64), delta, At,
            torch.randn(L, B, N, generator=g, dtype=torch.float64), torch.randn(L, B, N, generator=g,
                                                                                dtype=torch.float64)]


def reference(args64):
    """The recurrence in float64, token by token, and its gradients for a fixed upstream gradient."""
    u, delta, At, Bm, Cm = (a.clone().requires_grad_() for a in args64)
    h = torch.zeros(u.shape[1], At.shape[0], u.shape[2], dtype=u.dtype)
    ys = []
    for t in range(u.shape[0]):
        h = torch.exp(delta[t, :, None] * At) * h + Bm[t, :, :, None] * (delta[t] * u[t])[:, None]
        ys.append((Cm[t, :, :, None] * h).sum(1))
    y = torch.stack(ys)
    gy = torch.ones_like(y) / y.numel() ** 0.5
    (y * gy).sum().backward()
    return y.detach(), [a.grad for a in (u, delta, At, Bm, Cm)], gy


def main(argv=None) -> int:
    cfg, _ = parse_config(ScanBenchConfig, argv, "python bench/scan_kernel.py", __doc__)
    from agents.robomamba import fast_mamba, scan_kernel

    if not scan_kernel.load():
        print("the fused scan kernel is not available; nothing to compare", file=sys.stderr)
        return 1
    torch.set_num_threads(cfg.threads)
    scans = {"kernel": contextlib.nullcontext, "pytorch": fast_mamba.pytorch_scan}
    rows = []
    for shape in cfg.shapes.split(","):
        B, L = (int(v) for v in shape.lower().split("x"))
        args64 = inputs(L, B, cfg.channels, cfg.state)
        y_ref, g_ref, gy = reference(args64)
        args = [a.float() for a in args64]
        times = {(name, mode): [] for name in scans for mode in ("forward", "forward+backward")}
        errors = {}
        for k in range(cfg.reps + 1):  # round 0 warms up and measures the error
            for name, ctx in scans.items():
                with ctx():
                    with torch.no_grad():
                        t0 = time.perf_counter()
                        fast_mamba.run_scan(*args)
                        fwd = time.perf_counter() - t0
                    leaf = [a.clone().requires_grad_() for a in args]
                    t0 = time.perf_counter()
                    y = fast_mamba.run_scan(*leaf)[0]
                    (y * gy.float()).sum().backward()
                    both = time.perf_counter() - t0
                if k == 0:
                    errs = [(y.detach().double() - y_ref).abs().max() / y_ref.abs().max()]
                    errs += [(a.grad.double() - g).abs().max() / g.abs().max() for a, g in zip(leaf, g_ref)]
                    errors[name] = float(max(errs))
                else:
                    times[(name, "forward")].append(fwd)
                    times[(name, "forward+backward")].append(both)
        for (name, mode), v in times.items():
            rows.append({"batch": B, "tokens": L, "scan": name, "pass": mode, "ms": round(1e3 * float(np.median(v)), 3),
                         "max_rel_error": f"{errors[name]:.1e}"})
    df = pd.DataFrame(rows)
    wide = df.pivot_table(index=["batch", "tokens", "pass"], columns="scan", values="ms").reset_index()
    wide["speed-up"] = (wide["pytorch"] / wide["kernel"]).round(2)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out, df.to_csv(index=False))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {cfg.channels} channels, state "
          f"{cfg.state}, one layer's scan, median of {cfg.reps} (ms)\n")
    print(wide.to_markdown(index=False))
    print("\nlargest difference to the float64 recurrence (outputs and gradients, relative):",
          ", ".join(f"{n} {e}" for n, e in df.groupby("scan")["max_rel_error"].max().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
