"""The `remote` agent: a policy served by another process or machine (python -m agents.serve, or any
server speaking agents.remote.protocol), evaluated like a local agent.

    python -m agents.serve --agent robomamba --checkpoint runs/robomamba --port 8765      # one shell
    python -m evaluation.run --agent remote --policy-url ws://localhost:8765 --label served  # another

`protocol` is the server's: this project's own (`robomamba`: each act() is one request with the batch's
observations and episode seeds), `openpi` or `vla-eval` (one observation per call; agents/remote/clients.py
says what each can reproduce). Failures are the evaluator's recorded outcomes, with a reason:
- `remote_timeout`: no reply within `timeout` seconds (the connection is dropped and reopened for the
  next batch, so a late reply is never taken for another batch's);
- `remote_disconnected`: the connection closed during the request, and either it cannot be reopened
  or the request sent again on the new connection failed too;
- `remote_malformed`: a reply that does not follow the protocol (openpi and vla-eval: actions must be
  (8,) or a (T, 8) chunk, whose first row is taken);
- `agent_error: ...`: the served agent raised (the server's text; openpi's text frame, after which the
  connection is reopened); the evaluator retries the batch's items one by one, as for a local agent.
A server that cannot be reached when a batch starts (three connection attempts) raises
PolicyUnavailable, a WorkerDied: the run stops, its finished episodes kept, and rerunning the command
resumes it. So a server that dies records its in-flight batch as `remote_disconnected`, then stops the
run; restart it and rerun.
"""
from __future__ import annotations

import time

import numpy as np

from infra.workers import WorkerDied

from ..base import Agent, item_seeds
from .clients import CLIENTS, Refused
from .codec import MAX_FRAME_BYTES, ProtocolError

CONNECT_ATTEMPTS = 3
CONNECT_PAUSE = 1.0  # seconds between connection attempts


class PolicyUnavailable(WorkerDied):
    """The policy server cannot be reached: the run stops (rerun to resume)."""


class RemoteError(RuntimeError):
    """A batch the server did not answer properly; `failure_reason` is what its episodes record."""

    whole_batch = True  # a transport failure: retrying the batch's items one by one would not help

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.failure_reason = f"{reason}: {detail}"


class RemoteAgentError(RuntimeError):
    """The served agent raised; `failure_reason` is the server's text ('agent_error: ...')."""

    def __init__(self, text: str):
        super().__init__(text)
        self.failure_reason = text if text.startswith("agent_error") else f"agent_error: {text}"


class RemoteAgent(Agent):
    name = "remote"
    needs_privileged = False  # the server refuses agents that need the simulator's privileged state

    def __init__(self, policy_url: str | None = None, timeout: float = 60.0, policy_protocol: str = "robomamba",
                 policy_keys: dict | None = None):
        if not policy_url:
            raise ValueError("the remote agent needs a policy server address (--policy-url ws://HOST:PORT)")
        if policy_protocol not in CLIENTS:
            raise ValueError(f"unknown policy protocol {policy_protocol!r}; allowed: {', '.join(CLIENTS)}")
        self.url, self.timeout, self.protocol = policy_url, float(timeout), policy_protocol
        self.client = CLIENTS[policy_protocol](policy_keys)
        self._conn = None
        self.served: dict = {}
        self._connection()  # fail now (exit 2) rather than at the first batch

    # --------------------------------------------------------------------------------- connection
    def _connection(self):
        if self._conn is not None:
            return self._conn
        from websockets.sync.client import connect

        last = None
        for attempt in range(CONNECT_ATTEMPTS):
            if attempt:
                time.sleep(CONNECT_PAUSE)
            try:
                conn = connect(self.url, open_timeout=min(self.timeout, 10.0), max_size=MAX_FRAME_BYTES,
                               compression=None)
            except Exception as e:  # refused, unresolvable, handshake failure, timeout
                last = f"{type(e).__name__}: {e}"
                continue
            try:
                served = self.client.greet(conn, min(self.timeout, 10.0))
            except Refused as e:
                conn.close()
                raise PolicyUnavailable(f"policy server {self.url}: {e}") from None
            except Exception as e:
                conn.close()
                last = f"no greeting ({type(e).__name__}: {e})"
                continue
            self._conn, self.served = conn, served
            return conn
        raise PolicyUnavailable(f"policy server {self.url} cannot be reached ({last}); finished episodes are "
                                f"kept: start the server and rerun the same command to resume")

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None

    # --------------------------------------------------------------------------------- the agent
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        from websockets.exceptions import ConnectionClosed

        seeds = item_seeds(seeds, len(observations))
        for attempt in range(2):
            try:
                conn = self._connection()
            except PolicyUnavailable as e:
                if not attempt:
                    raise  # down before this batch: stop the run, nothing recorded for it
                raise RemoteError("remote_disconnected", f"the connection closed during the request and "
                                                         f"cannot be reopened ({e})") from None
            try:
                reply = self.client.act(conn, observations, seeds, time.monotonic() + self.timeout)
            except TimeoutError:
                self._drop()
                raise RemoteError("remote_timeout", f"no reply from {self.url} within {self.timeout:g} s") from None
            except ConnectionClosed as e:
                self._drop()
                if attempt:
                    raise RemoteError("remote_disconnected", f"{self.url}: {e}") from None
                continue
            except ProtocolError as e:
                self._drop()  # the stream is out of step: start afresh
                raise RemoteError("remote_malformed", f"{self.url}: {e}") from None
            if isinstance(reply, str):
                if self.client.out_of_step:
                    self._drop()
                raise RemoteAgentError(reply)
            return reply
        raise AssertionError("unreachable")

    def parameter_counts(self) -> dict:
        return dict(self.served.get("parameter_counts") or {"total": 0, "trainable": 0})

    def close(self) -> None:
        self._drop()
