"""The client side of each policy protocol, for the `remote` agent (agents/remote/agent.py): how to read a
server's greeting, and how to turn a batch of observations into one action per observation.

`greet(conn, timeout)` returns what the server says of itself (recorded in run.json as `served_by`) or
raises Refused (a server of another protocol: the run cannot start) or ProtocolError. `act(conn,
observations, seeds, deadline)` returns the (B, 8) actions, or the served policy's error text (str);
it raises TimeoutError past `deadline` (time.monotonic()), ProtocolError for a reply that breaks the
protocol, and the transport's ConnectionClosed. After an error text, `out_of_step` says whether the
connection must be reopened (openpi's server closes it after an error; a vla-eval error that answers
another message leaves the reply of the observation still to come).
"""
from __future__ import annotations

import time

import numpy as np

from . import codec, keymap, openpi, protocol, vlaeval
from .codec import ProtocolError


class Refused(RuntimeError):
    """The server speaks another protocol; the text says which flag to use."""


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _guess(first) -> str:
    """Which protocol a server's first message looks like, for a Refused's text."""
    if isinstance(first, dict) and first.get("type") == "hello" and first.get("protocol") == protocol.PROTOCOL:
        return "this project's own protocol (--policy-protocol robomamba)"
    if isinstance(first, dict) and {"type", "payload", "seq"} <= set(first):
        return "vla-eval's (--policy-protocol vla-eval)"
    if isinstance(first, dict):
        return "openpi's, greeting with bare metadata (--policy-protocol openpi)"
    return "no protocol this client knows"


class V1Client:
    name = "robomamba"
    out_of_step = False

    def __init__(self, keys=None, limits=None):
        self.limits = limits or {}
        self.keys, self._id = None, 0

    def greet(self, conn, timeout: float) -> dict:
        greeting = protocol.decode(conn.recv(timeout=timeout), **self.limits)
        if greeting.get("type") != "hello" or greeting.get("protocol") != protocol.PROTOCOL:
            raise Refused(f"the server speaks {_guess(greeting)}, not {protocol.PROTOCOL!r}")
        try:
            self.keys = protocol.observation_keys(greeting)
        except ProtocolError as e:
            raise Refused(str(e)) from None
        return {k: v for k, v in greeting.items() if k != "type"}

    def act(self, conn, observations, seeds, deadline: float):
        self._id += 1
        conn.send(protocol.encode(protocol.act_request(self._id, observations, seeds, self.keys)))
        data = conn.recv(timeout=_remaining(deadline))
        return protocol.check_reply(protocol.decode(data, **self.limits), self._id, len(observations))


class OpenpiClient:
    """One observation per call, in order; no seeds (a stochastic policy cannot reproduce local episodes)."""

    name = openpi.NAME
    out_of_step = True

    def __init__(self, keys: dict | None = None, limits=None):
        self.keymap = dict(keys) if keys else keymap.parse(None, openpi.NAME)
        self.limits = limits or {}
        self.sent = self.keymap

    def greet(self, conn, timeout: float) -> dict:
        meta = codec.decode(conn.recv(timeout=timeout), **self.limits)
        if not isinstance(meta, dict) or meta.get("type") == "hello" and "protocol" in meta:
            raise Refused(f"the server speaks {_guess(meta)}, not openpi's")
        self.sent = keymap.restrict(self.keymap, meta.get("observation_keys"))  # agents.serve names what it reads
        return {"protocol": openpi.NAME, "metadata": _plain(meta), "observation_keys": list(self.sent)}

    def act(self, conn, observations, seeds, deadline: float):
        out = []
        for o in observations:
            conn.send(openpi.encode(keymap.to_wire(o, self.sent)))
            data = conn.recv(timeout=_remaining(deadline))
            if isinstance(data, str):  # openpi's error: a text frame (the traceback), then the server closes
                return f"agent_error: {data.strip()[-2000:]}"
            reply = codec.decode_map(data, **self.limits)
            if "actions" not in reply:
                raise ProtocolError(f"the reply has no 'actions' (keys: {sorted(map(str, reply))})")
            out.append(protocol.first_action(reply["actions"]))
        return np.stack(out)


class VlaEvalClient:
    """Each observation one single-step episode: episode_start (the seed in its task), observation,
    episode_end; the action must echo the observation's seq."""

    name = vlaeval.NAME
    out_of_step = False

    def __init__(self, keys: dict | None = None, limits=None):
        self.keymap = dict(keys) if keys else keymap.parse(None, vlaeval.NAME)
        self.limits = limits or {}
        self.sent, self._seq = self.keymap, 0

    def _send(self, conn, kind: str, payload: dict) -> int:
        self._seq += 1
        conn.send(vlaeval.encode(kind, payload, self._seq))
        return self._seq

    def greet(self, conn, timeout: float) -> dict:
        self._send(conn, "hello", vlaeval.hello_payload(benchmark="robomamba-bench"))
        data = conn.recv(timeout=timeout)
        try:
            kind, payload, _ = vlaeval.decode(data, **self.limits)
        except ProtocolError:
            raise Refused(f"the server speaks {_guess(codec.decode(data, **self.limits))}, not vla-eval's") from None
        if kind != "hello":
            raise Refused(f"the server answered hello with {kind!r}: {payload}")
        self.sent = keymap.restrict(self.keymap, payload.get("observation_keys"))
        return {"protocol": vlaeval.NAME, "server": _plain(payload), "observation_keys": list(self.sent)}

    def act(self, conn, observations, seeds, deadline: float):
        out = []
        for o, seed in zip(observations, seeds):
            self._send(conn, "episode_start", {"task": {"name": str(o.get("category", "")), "seed": int(seed)}})
            seq = self._send(conn, "observation", keymap.to_wire(o, self.sent))
            kind, payload, got = vlaeval.decode(conn.recv(timeout=_remaining(deadline)), **self.limits)
            self._send(conn, "episode_end", {})
            if kind == "error":
                self.out_of_step = got != seq
                return f"agent_error: {payload.get('error', payload)}"
            if kind != "action" or got != seq:
                raise ProtocolError(f"expected the action of observation {seq}, got {kind!r} of {got}")
            if "actions" not in payload:
                raise ProtocolError(f"the action has no 'actions' (keys: {sorted(map(str, payload))})")
            out.append(protocol.first_action(payload["actions"]))
        return np.stack(out)


CLIENTS = {"robomamba": V1Client, openpi.NAME: OpenpiClient, vlaeval.NAME: VlaEvalClient}


def _plain(m):
    """`m` without arrays and bytes (what run.json can hold)."""
    if isinstance(m, dict):
        return {str(k): _plain(v) for k, v in m.items() if not isinstance(v, (bytes, np.ndarray))}
    if isinstance(m, list):
        return [_plain(v) for v in m]
    return m.item() if isinstance(m, np.generic) else m
