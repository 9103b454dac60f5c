"""torch's thread count for a block of code, put back after it."""
from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int, only_if_imported: bool = False):
    """torch's intra-op threads set to `n` inside the block, then restored. Nothing is done for n == 0, nor
    with `only_if_imported` before anything imported torch (an agent that does not use it needs no import)."""
    torch = sys.modules.get("torch")
    if n and torch is None and not only_if_imported:
        import torch
    if not n or torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
