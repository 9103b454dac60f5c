"""openpi's policy protocol (Physical Intelligence's `openpi` serving, also RoboArena/DROID servers), as
its published client `openpi-client` speaks it:

    server -> client, on connect   METADATA: a bare msgpack map (no type, no protocol name)
    client -> server               OBS: one observation, a flat map of the policy's own key names
    server -> client               {"actions": ARRAY (horizon, dim), ...}      (binary frame)
                                or TEXT: the error (a traceback), after which the server closes (1011)

Arrays are openpi's msgpack_numpy maps with *bytes* keys (b"__ndarray__", b"data", b"dtype", b"shape"),
numpy scalars `__npgeneric__`; agents.remote.codec reads both styles. One observation per call, no
seed, health check `GET /healthz`. Observation entries travel under the key map's wire names
(agents.remote.keymap; default `observation/image=rgb`, `observation/depth=depth`, ..., `prompt=prompt`).
"""
from __future__ import annotations

import numpy as np

from . import codec

NAME = "openpi"
HEALTH_PATH = "/healthz"
ERROR_CLOSE_CODE = 1011  # internal error: openpi's server closes with it after the text frame


def encode(message) -> bytes:
    return codec.encode(message, keys="bytes")


def metadata(agent_name: str, parameter_counts: dict, checkpoint, wire_keys) -> dict:
    """What agents.serve greets an openpi client with (openpi's metadata is free-form)."""
    return {"agent": agent_name, "served_by": "robomamba-bench agents.serve", "observation_keys": list(wire_keys),
            "parameter_counts": parameter_counts, "checkpoint": checkpoint, "action_dim": 8, "action_horizon": 1}


def actions_message(action: np.ndarray, seconds: float) -> dict:
    """A reply in openpi's form: an action chunk of horizon 1, and the server's timing."""
    return {"actions": np.asarray(action, dtype=np.float64).reshape(1, -1),
            "server_timing": {"infer_ms": 1000.0 * float(seconds)}}
