"""The action an agent sends: 8 numbers [row, col, up_x, up_y, up_z, fwd_x, fwd_y, fwd_z] in the camera
frame, or a dict {"pixel": (row, col), "up": (3,), "forward": (3,)} (docs/protocol.md section 1).

`up` is the gripper's approach axis (from the gripper into the surface), `forward` its x axis.
"""
from __future__ import annotations

import numpy as np

from .config import ACTION_DIM


class ActionError(ValueError):
    """A malformed action (the episode fails with `invalid_action: ...`)."""


def parse_action(action) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(row, col, up, forward) from a flat 8-vector or a dict; ActionError says what is wrong."""
    try:
        if isinstance(action, dict):
            pix = np.asarray(action["pixel"], dtype=np.float64).reshape(-1)
            up = np.asarray(action["up"], dtype=np.float64).reshape(-1)
            fw = np.asarray(action["forward"], dtype=np.float64).reshape(-1)
            if pix.size != 2 or up.size != 3 or fw.size != 3:
                raise ActionError(f"dict action needs pixel(2), up(3), forward(3); got sizes "
                                  f"{pix.size}, {up.size}, {fw.size}")
        else:
            if hasattr(action, "detach"):  # torch tensor
                action = action.detach().cpu().numpy()
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            if a.size != ACTION_DIM:
                raise ActionError(f"expected {ACTION_DIM} numbers [row, col, up(3), forward(3)], got {a.size}")
            pix, up, fw = a[:2], a[2:5], a[5:8]
    except ActionError:
        raise
    except Exception as e:  # wrong types, missing keys, ragged lists
        raise ActionError(f"malformed action ({type(e).__name__}: {e})") from None
    if not (np.all(np.isfinite(pix)) and np.all(np.isfinite(up)) and np.all(np.isfinite(fw))):
        raise ActionError("action contains NaN or inf")
    return float(pix[0]), float(pix[1]), up, fw
