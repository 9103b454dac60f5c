"""The remote-policy wire protocol, version 1 (docs/remote_policy.md is its public description).

Transport: one WebSocket connection per client; every message is one binary frame holding one msgpack
map. A numpy array travels as the map {"__ndarray__": true, "dtype": "<u1", "shape": [H, W, 3],
"data": <bytes, C order>} (agents/remote/codec.py, which decodes without trusting the sender);
everything else is plain msgpack (str, int, float, bool, nil, list, map).

    server -> client, on connect   {"type": "hello", "protocol": PROTOCOL, "agent": str,
                                    "observation_keys": [...], "parameter_counts": {...}, "checkpoint": ...}
    client -> server               {"type": "act", "id": int, "observations": [obs, ...], "seeds": [int, ...]}
    server -> client               {"type": "actions", "id": int, "actions": ndarray (B, 8) float64,
                                    "seconds": float}
                                or {"type": "error", "id": int or nil, "error": str}

An observation is a map with the hello's `observation_keys`: the entries the served agent reads, a
subset of sim_envs.config.AGENT_OBS_KEYS (all of them when the hello does not say), so an RGB-only
model is not sent depth and masks. A request the
server cannot read is answered with an error and the connection stays open; an agent that raises is
answered with an error starting "agent_error:". Requests on one connection are answered in order.
"""
from __future__ import annotations

import numpy as np

from sim_envs.config import ACTION_DIM, AGENT_OBS_KEYS

from . import codec
from .codec import ProtocolError  # noqa: F401  (this module's error too)

PROTOCOL = "robomamba-bench/policy/v1"


def encode(message: dict) -> bytes:
    return codec.encode(message, keys="str")


def decode(data, **limits) -> dict:
    """The map in `data` (bytes); ProtocolError if it is not one msgpack map or holds a refused array
    (agents.remote.codec)."""
    return codec.decode_map(data, **limits)


# ---------------------------------------------------------------------------------------- messages
def hello(agent_name: str, parameter_counts: dict, checkpoint=None, observation_keys=AGENT_OBS_KEYS) -> dict:
    return {"type": "hello", "protocol": PROTOCOL, "agent": agent_name, "observation_keys": list(observation_keys),
            "parameter_counts": parameter_counts, "checkpoint": checkpoint}


def observation_keys(greeting: dict) -> tuple:
    """The entries a server asks for in its hello (all of AGENT_OBS_KEYS when it does not say);
    ProtocolError for one this benchmark does not have."""
    keys = greeting.get("observation_keys") or list(AGENT_OBS_KEYS)
    unknown = [k for k in keys if k not in AGENT_OBS_KEYS] if isinstance(keys, list) else [keys]
    if unknown:
        raise ProtocolError(f"the server asks for {unknown}; observations have {', '.join(AGENT_OBS_KEYS)}")
    return tuple(keys)


def act_request(request_id: int, observations, seeds, keys=AGENT_OBS_KEYS) -> dict:
    obs = [{k: o[k] for k in keys} for o in observations]
    return {"type": "act", "id": int(request_id), "observations": obs, "seeds": [int(s) for s in seeds]}


def check_request(m: dict, keys=AGENT_OBS_KEYS) -> tuple[int, list, list]:
    """(id, observations, seeds) of an act request whose observations must hold `keys`; ProtocolError
    naming the first problem."""
    if m.get("type") != "act":
        raise ProtocolError(f"unknown message type {m.get('type')!r}; allowed: 'act'")
    rid, obs, seeds = m.get("id"), m.get("observations"), m.get("seeds")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise ProtocolError(f"'id' must be an integer, got {rid!r}")
    if not isinstance(obs, list) or not obs:
        raise ProtocolError("'observations' must be a non-empty list of maps")
    if not isinstance(seeds, list) or len(seeds) != len(obs) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ProtocolError(f"'seeds' must be a list of {len(obs)} integers")
    for i, o in enumerate(obs):
        check_observation(o, keys, f"observation {i}")
    return rid, obs, seeds


def check_observation(o, keys=AGENT_OBS_KEYS, name: str = "the observation") -> None:
    """ProtocolError unless `o` is a map holding `keys`, arrays where arrays belong (rgb: (H, W, 3))."""
    if not isinstance(o, dict):
        raise ProtocolError(f"{name} is a {type(o).__name__}, not a map")
    missing = [k for k in keys if k not in o]
    if missing:
        raise ProtocolError(f"{name} lacks {', '.join(missing)}")
    for k in ("rgb", "depth", "object_mask", "target_mask", "intrinsics", "cam2world"):
        if k in keys and not isinstance(o[k], np.ndarray):
            raise ProtocolError(f"{name}: {k!r} must be an array")
    if "rgb" in keys and (o["rgb"].ndim != 3 or o["rgb"].shape[2] != 3):
        raise ProtocolError(f"{name}: 'rgb' has shape {o['rgb'].shape}, expected (H, W, 3)")
    for k in ("prompt", "category"):
        if k in keys and not isinstance(o[k], str):
            raise ProtocolError(f"{name}: {k!r} must be a string")


def first_action(value) -> np.ndarray:
    """The (8,) action of an openpi or vla-eval reply's `actions`: an (8,) array, or the first row of a
    (T, 8) chunk; ProtocolError for anything else."""
    a = value
    if isinstance(a, list):
        try:
            a = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProtocolError("'actions' is a list that is not numeric") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu":
        raise ProtocolError(f"'actions' must be a numeric array, got {type(value).__name__}")
    shape = a.shape
    if a.ndim == 2 and a.shape[0] >= 1:
        a = a[0]
    if a.shape != (ACTION_DIM,):
        raise ProtocolError(f"'actions' must have shape ({ACTION_DIM},) or (T, {ACTION_DIM}), got {shape}")
    return a.astype(np.float64)


def actions_reply(request_id: int, actions: np.ndarray, seconds: float) -> dict:
    return {"type": "actions", "id": int(request_id), "actions": np.asarray(actions, dtype=np.float64),
            "seconds": float(seconds)}


def error_reply(request_id, error: str) -> dict:
    return {"type": "error", "id": request_id if isinstance(request_id, int) else None, "error": str(error)}


def check_reply(m: dict, request_id: int, n: int) -> np.ndarray:
    """The (n, 8) actions of a reply to request `request_id`; ProtocolError for anything else, except
    an error reply, returned as its text (str)."""
    if m.get("id") != request_id:
        raise ProtocolError(f"reply to request {m.get('id')!r}, expected {request_id}")
    if m.get("type") == "error":
        return str(m.get("error"))
    if m.get("type") != "actions":
        raise ProtocolError(f"reply of type {m.get('type')!r}, expected 'actions' or 'error'")
    a = m.get("actions")
    if not isinstance(a, np.ndarray) or a.shape != (n, ACTION_DIM) or a.dtype.kind != "f":
        shape = getattr(a, "shape", type(a).__name__)
        raise ProtocolError(f"'actions' must be a float array of shape ({n}, {ACTION_DIM}), got {shape}")
    return a.astype(np.float64)
