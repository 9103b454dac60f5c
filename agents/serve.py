"""Serve an agent over the network for `evaluation.run --agent remote` (protocol: docs/remote_policy.md).

    python -m agents.serve --agent robomamba --checkpoint out/pipeline/checkpoints/robomamba --port 8765
    python -m evaluation.run --agent remote --policy-url ws://localhost:8765 --label robomamba-served

One WebSocket connection per evaluator; requests from all connections are answered one batch at a
time, in arrival order, by the one agent (on --device), in the main thread. A malformed request gets
an error reply and the server goes on serving; an agent that raises gets an "agent_error: ..." reply.
The first line on stdout is "serving AGENT on ws://HOST:PORT" (with the real port when --port 0).
Ctrl-C stops it.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass

from infra.cli import ConfigBase, check_at_least, die, option, parse_config


@dataclass
class ServeConfig(ConfigBase):
    agent: str = option("robomamba", "agent to serve (python -m agents lists them); not 'oracle', which needs "
                                     "the simulator's privileged state, nor 'remote'")
    checkpoint: str | None = option(None, "checkpoint directory of a learned agent")
    untrained: bool = option(False, "serve a learned agent without a checkpoint, on untrained weights")
    host: str = option("127.0.0.1", "address to listen on; 0.0.0.0 accepts other machines")
    port: int = option(8765, "TCP port; 0 picks a free one (printed on the first line)")
    device: str = option("cpu", "torch device of a learned agent (cpu, cuda, cuda:1)")
    quiet: bool = option(False, "no line per request on stderr")

    def __post_init__(self):
        check_at_least(self, port=0)
        if self.port > 65535:
            from infra.cli import ConfigError

            raise ConfigError("port", self.port, "must be at most 65535")


def serve(agent, host: str = "127.0.0.1", port: int = 8765, checkpoint: dict | None = None,
          log=None, ready=None) -> None:
    """Answer act requests with `agent` until the process is stopped (or `ready`'s server is shut down:
    `ready(server)` is called once listening)."""
    import numpy as np
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import serve as ws_serve

    from infra.files import to_jsonable
    from sim_envs.config import ACTION_DIM

    from .remote.protocol import (
        MAX_MESSAGE_BYTES,
        ProtocolError,
        actions_reply,
        check_request,
        decode,
        encode,
        error_reply,
        hello,
    )

    keys = tuple(agent.observation_keys)
    greeting = encode(hello(agent.name, agent.parameter_counts(), to_jsonable(checkpoint), keys))

    def answer(data):
        rid = None
        try:
            m = decode(data)
            rid = m.get("id")
            rid, obs, seeds = check_request(m, keys)
        except ProtocolError as e:
            return error_reply(rid, f"malformed request: {e}"), f"rejected a malformed request: {e}"
        t0 = time.perf_counter()
        try:
            actions = np.asarray(agent.act(obs, seeds=seeds), dtype=np.float64)
            if actions.shape != (len(obs), ACTION_DIM):
                raise ValueError(f"act() returned shape {actions.shape}, expected ({len(obs)}, {ACTION_DIM})")
        except Exception as e:
            return error_reply(rid, f"agent_error: {type(e).__name__}: {e}"), f"request {rid}: agent error {e}"
        secs = time.perf_counter() - t0
        return actions_reply(rid, actions, secs), f"request {rid}: {len(obs)} observations in {secs:.3f} s"

    requests: queue.Queue = queue.Queue()
    stopping = threading.Event()

    def handler(conn):  # one thread per connection: hands each request to the loop below, sends its reply
        try:
            conn.send(greeting)
            for data in conn:
                slot = {"done": threading.Event()}
                requests.put((data, slot))
                while not slot["done"].wait(0.2):
                    if stopping.is_set():
                        return  # the server is shutting down: the connection closes unanswered
                conn.send(slot["reply"])
        except ConnectionClosed:
            pass

    # The agent runs in the thread that called serve(): torch ran the tiny robomamba at half speed in a
    # connection's thread (bench/README.md, "Remote policy"), and one thread also serialises the batches.
    with ws_serve(handler, host, port, max_size=MAX_MESSAGE_BYTES, compression=None) as server:
        listener = threading.Thread(target=server.serve_forever, daemon=True)
        listener.start()
        if ready is not None:
            ready(server)
        try:
            while listener.is_alive():
                try:
                    data, slot = requests.get(timeout=0.2)
                except queue.Empty:
                    continue
                reply, line = answer(data)
                slot["reply"] = encode(reply)
                slot["done"].set()
                if log:
                    log(line)
        finally:
            stopping.set()  # Ctrl-C or shutdown: waiting connections give up, so the server can close


def main(argv=None) -> int:
    cfg, _ = parse_config(ServeConfig, argv, "python -m agents.serve", __doc__)
    from .checkpoint import CheckpointError
    from .factory import build
    from .registry import UnknownAgentError, resolve, trainable

    try:
        name = resolve(cfg.agent)
    except UnknownAgentError as e:
        die(f"--agent {cfg.agent}: {e}")
    if name == "remote":
        die("--agent remote: a server serves a local agent; allowed: any other agent of `python -m agents`")
    if name in trainable() and cfg.checkpoint is None and not cfg.untrained:
        die(f"--agent {cfg.agent}: a learned agent needs --checkpoint DIR (or --untrained for untrained weights)")
    try:
        agent, meta = build(name, cfg.checkpoint, cfg.device)
    except (CheckpointError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        die(f"--checkpoint {cfg.checkpoint}: {e}" if cfg.checkpoint else f"--agent {cfg.agent}: cannot build it ({e})")
    if agent.needs_privileged:
        die(f"--agent {cfg.agent}: needs the simulator's privileged state, which a served policy does not get")
    if meta is not None:
        import os

        meta = {"path": os.path.abspath(cfg.checkpoint), **meta}

    def ready(server):
        host, port = server.socket.getsockname()[:2]
        print(f"serving {name} on ws://{host}:{port}", flush=True)

    log = None if cfg.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        serve(agent, cfg.host, cfg.port, meta, log=log, ready=ready)
    except OSError as e:  # port taken, address not ours
        die(f"--port {cfg.port}: cannot listen on {cfg.host}:{cfg.port} ({e})")
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
