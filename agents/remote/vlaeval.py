"""The vla-evaluation-harness protocol (`vla-eval`), as its published package speaks it:

every message, either way, is one binary msgpack frame holding the envelope
    {"type": TYPE, "payload": MAP, "seq": INT, "timestamp": FLOAT}
TYPE one of hello, observation, action, episode_start, episode_end, error. The client speaks first:

    client: hello {harness_version, protocol_version: 1, ...}   server: hello {harness_version, protocol_version,
                                                                          model_server, capabilities, ...}
    client: episode_start {"task": {...}}
    client: observation OBS (seq s)                             server: action {"actions": (dim,) or (T, dim)}
                                                                        (seq s), or error {"error": TEXT}
    client: episode_end {...}

Arrays are str-keyed `__ndarray__` maps; vla-eval's client sends HWC uint8 images as `__image__` maps,
PNG by default (agents.remote.codec decodes raw, PNG and JPEG). Health check `GET /health`. One
observation per message; a server batches across connections. This benchmark's episodes are one step,
so each is episode_start, one observation, episode_end; the episode's seed travels as
`episode_start.payload.task.seed` (agents.serve reads it; other servers may ignore it). Observation
entries travel under the key map's wire names (default `images.rgb=rgb`, `task_description=prompt`,
the other entries under their own names).
"""
from __future__ import annotations

import time

from . import codec
from .codec import ProtocolError

NAME = "vla-eval"
HEALTH_PATH = "/health"
PROTOCOL_VERSION = 1
TYPES = ("hello", "observation", "action", "episode_start", "episode_end", "error")


def encode(kind: str, payload: dict, seq: int) -> bytes:
    return codec.encode({"type": kind, "payload": payload, "seq": int(seq), "timestamp": time.time()}, keys="str")


def decode(data, **limits) -> tuple[str, dict, int]:
    """(type, payload, seq) of an envelope; ProtocolError naming what is wrong."""
    m = codec.decode_map(data, **limits)
    missing = [k for k in ("type", "payload", "seq") if k not in m]
    if missing:
        raise ProtocolError(f"the message lacks {', '.join(missing)} (a vla-eval envelope has type, payload, seq, "
                            f"timestamp)")
    if m["type"] not in TYPES:
        raise ProtocolError(f"unknown message type {m['type']!r}; allowed: {', '.join(TYPES)}")
    if not isinstance(m["payload"], dict):
        raise ProtocolError(f"'payload' must be a map, got {type(m['payload']).__name__}")
    seq = m["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ProtocolError(f"'seq' must be an integer, got {seq!r}")
    return m["type"], m["payload"], seq


def hello_payload(**extra) -> dict:
    from infra.provenance import versions

    version = versions(packages=(), git=False)["robomamba-bench"]
    return {"harness_version": f"robomamba-bench {version}", "protocol_version": PROTOCOL_VERSION, **extra}
