"""The fused CPU selective scan (issue 29): build, cache and load ``csrc/selective_scan.cpp``.

The kernel runs a Mamba block's whole scan (the discretisation, the recurrence with the state kept in
the L1 cache, the read-out; forward and backward) in one call per layer, where the PyTorch scan of
:mod:`agents.robomamba.fast_mamba` issues a few operators per token. It is compiled for the machine it runs
on (``-O3 -march=native``) with torch's extension builder (g++ and ninja, which ``scripts/setup.sh``
installs and uses to build it ahead of time), and cached under a key of the source, the flags, torch's
version and the CPU, in ``$ROBOMAMBA_KERNEL_DIR`` (default ``~/.cache/robomamba_bench/scan_kernel``).

:func:`load` builds on first use if the cache lacks it (about a minute, once per machine). If it cannot
(no compiler, ``ROBOMAMBA_SCAN_KERNEL=0``), one :class:`ScanKernelUnavailable` warning says why and the
PyTorch scan runs instead (same results up to float32 rounding, slower). :func:`backend` names which scan
runs; checkpoints and evaluation records store it with the package versions.

``python -m agents.robomamba.scan_kernel`` builds (or finds) the kernel and prints where it is.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).resolve().parent / "csrc" / "selective_scan.cpp"
FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fno-trapping-math")
NAME = "robomamba_scan"
_STATE: dict = {}  # "loaded": bool, "problem": str | None (once per process)


class ScanKernelUnavailable(UserWarning):
    """The fused CPU scan could not be built or loaded; Mamba mixers use the PyTorch scan instead."""


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def cache_key() -> str:
    """What the compiled library depends on: the source, the flags, torch, Python and the CPU."""
    h = hashlib.sha256(SOURCE.read_bytes())
    for part in (*FLAGS, torch.__version__, sys.version, platform.machine(), _cpu_flags()):
        h.update(part.encode())
    return h.hexdigest()[:16]


def build_dir() -> Path:
    root = os.environ.get("ROBOMAMBA_KERNEL_DIR") or Path.home() / ".cache" / "robomamba_bench" / "scan_kernel"
    return Path(root) / cache_key()


def _library() -> Path:
    return build_dir() / f"{NAME}.so"


def _build() -> None:
    from torch.utils import cpp_extension  # imports setuptools: only when a build is needed

    out = build_dir()
    out.mkdir(parents=True, exist_ok=True)
    print(f"scan_kernel: compiling {SOURCE.name} into {out} (once per machine, about a minute)", file=sys.stderr)
    cpp_extension.load(name=NAME, sources=[str(SOURCE)], extra_cflags=list(FLAGS), build_directory=str(out),
                       is_python_module=False, verbose=False)


def _first_error(text: str) -> str:
    """The compiler's first error line of a failed build's output (else the message's last line)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or ["(no message)"]
    return next((line for line in lines if "error:" in line), lines[-1])[:300]


def load(build: bool = True) -> bool:
    """Load the kernel into ``torch.ops.robomamba_scan`` (building it first if ``build`` and it is not in
    the cache). Returns whether it is loaded; on failure warns once, with the reason."""
    if "loaded" in _STATE:
        return _STATE["loaded"]
    problem = None
    if os.environ.get("ROBOMAMBA_SCAN_KERNEL", "1") == "0":
        problem = "ROBOMAMBA_SCAN_KERNEL=0 switches it off"
    elif sys.platform != "linux":
        problem = f"it is built for Linux only (this is {sys.platform})"
    else:
        try:
            if not _library().exists():
                if not build:
                    raise FileNotFoundError(f"{_library()} is not built (python -m agents.robomamba.scan_kernel)")
                _build()
            if not hasattr(torch.ops, NAME) or not hasattr(getattr(torch.ops, NAME), "scan_fwd"):
                torch.ops.load_library(str(_library()))
        except Exception as exc:  # a missing compiler, a failed build: fall back, say why
            problem = f"{type(exc).__name__}: {_first_error(str(exc))}"
    _STATE["loaded"], _STATE["problem"] = problem is None, problem
    if problem is not None:
        warnings.warn(f"the fused CPU scan kernel is not available ({problem}); Mamba mixers use the PyTorch "
                      "scan (same results up to float32 rounding, slower)", ScanKernelUnavailable, stacklevel=2)
    return problem is None


def backend() -> str:
    """Which CPU scan Mamba mixers run in this process: ``kernel`` or ``pytorch``."""
    return "kernel" if load() else "pytorch"


def scan_fwd(u, delta, At, Bm, Cm):
    """(y, last state) of the scan on token-major float32 inputs (see ``fast_mamba.scan_forward``)."""
    return torch.ops.robomamba_scan.scan_fwd(u, delta, At, Bm, Cm)


def scan_bwd(gy, u, delta, At, Bm, Cm):
    """Gradients w.r.t. (u, delta, At, Bm, Cm); the states are recomputed, not stored by the forward."""
    return torch.ops.robomamba_scan.scan_bwd(gy, u, delta, At, Bm, Cm)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.robomamba.scan_kernel",
                                description="Build (or find) the fused CPU selective-scan kernel for this machine "
                                            "and print where it is. scripts/setup.sh runs this.")
    p.add_argument("--no-build", action="store_true", help="only look in the cache; do not compile")
    args = p.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScanKernelUnavailable)  # said below, in one line
        ok = load(build=not args.no_build)
    if ok:
        print(f"scan_kernel: loaded {_library()}")
        return 0
    print(f"scan_kernel: not available: {_STATE['problem']}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
