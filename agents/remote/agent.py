"""The `remote` agent: a policy served by another process or machine (python -m agents.serve, or any
server speaking agents.remote.protocol), evaluated like a local agent.

    python -m agents.serve --agent robomamba --checkpoint runs/robomamba --port 8765      # one shell
    python -m evaluation.run --agent remote --policy-url ws://localhost:8765 --label served  # another

`protocol` is the server's: this project's own (`robomamba`: each act() is one request with the batch's
observations and episode seeds), `openpi` or `vla-eval` (one observation per call; agents/remote/clients.py
says what each can reproduce; a batch is spread over `policy_connections` connections, whose
requests agents.serve answers together). Failures are the evaluator's recorded outcomes, with a reason:
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


class _Line:
    """One connection to the server and its protocol client."""

    def __init__(self, client):
        self.client, self.conn = client, None


class RemoteAgent(Agent):
    name = "remote"
    needs_privileged = False  # the server refuses agents that need the simulator's privileged state

    def __init__(self, policy_url: str | None = None, timeout: float = 60.0, policy_protocol: str = "robomamba",
                 policy_keys: dict | None = None, policy_connections: int = 8):
        if not policy_url:
            raise ValueError("the remote agent needs a policy server address (--policy-url ws://HOST:PORT)")
        if policy_protocol not in CLIENTS:
            raise ValueError(f"unknown policy protocol {policy_protocol!r}; allowed: {', '.join(CLIENTS)}")
        self.url, self.timeout, self.protocol = policy_url, float(timeout), policy_protocol
        # this project's protocol sends a batch per request: one connection; the others one observation per
        # request: a batch is spread over `policy_connections`, whose requests a server may batch together
        n = 1 if policy_protocol == "robomamba" else max(1, int(policy_connections))
        self.lines = [_Line(CLIENTS[policy_protocol](policy_keys)) for _ in range(n)]
        self._pool = None
        self.served: dict = {}
        self._connection(self.lines[0])  # fail now (exit 2) rather than at the first batch

    @property
    def client(self):
        return self.lines[0].client

    # --------------------------------------------------------------------------------- connection
    def _connection(self, line: _Line):
        if line.conn is not None:
            return line.conn
        from websockets.sync.client import connect

        last = None
        for attempt in range(CONNECT_ATTEMPTS):
            if attempt:
                time.sleep(CONNECT_PAUSE)
            try:
                conn = connect(self.url, open_timeout=min(self.timeout, 10.0), max_size=MAX_FRAME_BYTES, legacy=True,
                               compression=None)
            except Exception as e:  # refused, unresolvable, handshake failure, timeout
                last = f"{type(e).__name__}: {e}"
                continue
            try:
                served = line.client.greet(conn, min(self.timeout, 10.0))
            except Refused as e:
                conn.close()
                raise PolicyUnavailable(f"policy server {self.url}: {e}") from None
            except Exception as e:
                conn.close()
                last = f"no greeting ({type(e).__name__}: {e})"
                continue
            line.conn = conn
            if line is self.lines[0]:
                self.served = served
            return conn
        raise PolicyUnavailable(f"policy server {self.url} cannot be reached ({last}); finished episodes are "
                                f"kept: start the server and rerun the same command to resume")

    @staticmethod
    def _drop(line: _Line) -> None:
        if line.conn is not None:
            try:
                line.conn.close()
            except Exception:
                pass
        line.conn = None

    # --------------------------------------------------------------------------------- the agent
    def act(self, observations, seeds=None, privileged=None) -> np.ndarray:
        seeds = item_seeds(seeds, len(observations))
        n = min(len(self.lines), len(observations))
        if n <= 1:
            return self._act_on(self.lines[0], observations, seeds)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(len(self.lines), thread_name_prefix="remote")
        parts = np.array_split(np.arange(len(observations)), n)
        futures = [self._pool.submit(self._act_on, line, [observations[i] for i in idx], [seeds[i] for i in idx])
                   for line, idx in zip(self.lines, parts)]
        out, errors = [], []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as e:
                errors.append(e)
        if errors:  # the batch fails as its worst part did: unreachable, then transport, then the agent's error
            raise min(errors, key=lambda e: (not isinstance(e, PolicyUnavailable), not isinstance(e, RemoteError)))
        return np.concatenate(out)

    def _act_on(self, line: _Line, observations, seeds) -> np.ndarray:
        from websockets.exceptions import ConnectionClosed

        for attempt in range(2):
            try:
                conn = self._connection(line)
            except PolicyUnavailable as e:
                if not attempt:
                    raise  # down before this batch: stop the run, nothing recorded for it
                raise RemoteError("remote_disconnected", f"the connection closed during the request and "
                                                         f"cannot be reopened ({e})") from None
            try:
                reply = line.client.act(conn, observations, seeds, time.monotonic() + self.timeout)
            except TimeoutError:
                self._drop(line)
                raise RemoteError("remote_timeout", f"no reply from {self.url} within {self.timeout:g} s") from None
            except ConnectionClosed as e:
                self._drop(line)
                if attempt:
                    raise RemoteError("remote_disconnected", f"{self.url}: {e}") from None
                continue
            except ProtocolError as e:
                self._drop(line)  # the stream is out of step: start afresh
                raise RemoteError("remote_malformed", f"{self.url}: {e}") from None
            if isinstance(reply, str):
                if line.client.out_of_step:
                    self._drop(line)
                raise RemoteAgentError(reply)
            return reply
        raise AssertionError("unreachable")

    def parameter_counts(self) -> dict:
        return dict(self.served.get("parameter_counts") or {"total": 0, "trainable": 0})

    def close(self) -> None:
        for line in self.lines:
            self._drop(line)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
