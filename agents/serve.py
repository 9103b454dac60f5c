"""Serve an agent over the network, in this project's protocol or openpi's or vla-eval's
(docs/remote_policy.md), for `evaluation.run --agent remote` or any client of those protocols.

    python -m agents.serve --agent robomamba --checkpoint out/pipeline/checkpoints/robomamba --port 8765
    python -m evaluation.run --agent remote --policy-url ws://localhost:8765 --label robomamba-served

    python -m agents.serve --agent robomamba --checkpoint DIR --protocol openpi     # openpi's WebsocketClientPolicy
    python -m agents.serve --agent robomamba --checkpoint DIR --protocol vla-eval   # vla-eval's clients

One WebSocket connection per client; requests from all connections are answered by the one agent (on
--device), in the main thread, one act() call at a time (openpi's and vla-eval's single observations
that wait together share one call). A malformed request gets the protocol's error and the server goes
on serving; an agent that raises gets an "agent_error: ..." error. GET /healthz (openpi) and GET /health
(vla-eval) answer 200. The first line on stdout is "serving AGENT on ws://HOST:PORT" (with the real port
when --port 0). Ctrl-C stops it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from agents.remote.keymap import PROTOCOLS
from agents.remote.server import serve  # noqa: F401  (the server, importable from here)
from infra.cli import ConfigBase, ConfigError, check_at_least, die, option, parse_config


@dataclass
class ServeConfig(ConfigBase):
    agent: str = option("robomamba", "agent to serve (python -m agents lists them); not 'oracle', which needs "
                                     "the simulator's privileged state, nor 'remote'")
    checkpoint: str | None = option(None, "checkpoint directory of a learned agent")
    untrained: bool = option(False, "serve a learned agent without a checkpoint, on untrained weights")
    host: str = option("127.0.0.1", "address to listen on; 0.0.0.0 accepts other machines")
    port: int = option(8765, "TCP port; 0 picks a free one (printed on the first line)")
    device: str = option("cpu", "torch device of a learned agent (cpu, cuda, cuda:1)")
    protocol: str = option("robomamba", "wire protocol: this project's own (robomamba), openpi's (openpi-client's "
                                        "WebsocketClientPolicy) or vla-eval's", choices=PROTOCOLS)
    keys: str | None = option(None, "openpi/vla-eval: wire names of the observation entries, WIRE=ENTRY,... (None: "
                                    "the protocol's default, docs/remote_policy.md)")
    max_array_mb: float = option(256.0, "largest array a request may hold, MB (bigger ones get an error)")
    quiet: bool = option(False, "no line per request on stderr")

    def __post_init__(self):
        check_at_least(self, port=0)
        if self.port > 65535:
            raise ConfigError("port", self.port, "must be at most 65535")
        if not self.max_array_mb > 0:
            raise ConfigError("max_array_mb", self.max_array_mb, "must be > 0")
        self.key_map()

    def key_map(self) -> dict:
        """{wire name: entry} of --keys for --protocol; ConfigError naming --keys."""
        from agents.remote.keymap import parse

        try:
            return parse(self.keys, self.protocol)
        except ValueError as e:
            raise ConfigError("keys", self.keys, str(e)) from None


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
        serve(agent, cfg.host, cfg.port, meta, log=log, ready=ready, protocol_name=cfg.protocol, keys=cfg.key_map(),
              max_array_bytes=int(cfg.max_array_mb * 1e6))
    except ValueError as e:  # a key map without a name for an entry the agent reads
        die(f"--keys {cfg.keys}: {e}")
    except OSError as e:  # port taken, address not ours
        die(f"--port {cfg.port}: cannot listen on {cfg.host}:{cfg.port} ({e})")
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
