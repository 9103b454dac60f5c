"""The server side of the three policy protocols (`python -m agents.serve` is its command line).

Every connection has a thread that reads its messages in the protocol's way and hands observations to
one Batcher; the Batcher runs the agent in the thread that called serve() (torch ran the tiny robomamba
at half speed in a connection's thread: bench/README.md, "Remote policy"). Observations of the
one-observation protocols (openpi, vla-eval) that wait at the same time, from any number of
connections, are answered by one act() call: server-side batching. A message a connection cannot read
gets its protocol's error (ours and vla-eval's: an error message, the connection stays open; openpi's: a
text frame, then the connection closes, as openpi's own server does) and the server goes on serving.

Seeds: ours carries each episode's seed; vla-eval's episode_start may carry it (`task.seed`, which
this project's client sends); openpi has none, so a served stochastic agent is seeded with the CRC32
of the request frame: the same observation gets the same action, but not the action a local run with
the episode's seed would give.
"""
from __future__ import annotations

import queue
import threading
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from sim_envs.config import ACTION_DIM

from . import codec, keymap, openpi, protocol, vlaeval
from .codec import ProtocolError

MAX_BATCH = 64  # most observations of the one-observation protocols in one act() call


@dataclass
class _Job:
    observations: list
    seeds: list
    single: bool  # one observation of openpi/vla-eval: may share an act() call with others
    done: threading.Event = field(default_factory=threading.Event)
    actions: np.ndarray | None = None
    error: str | None = None
    seconds: float = 0.0


class Batcher:
    """Observations from every connection, answered by the agent in the thread that calls run()."""

    def __init__(self, agent, log=None):
        self.agent, self.log = agent, log
        self.jobs: queue.Queue = queue.Queue()
        self.stopping = threading.Event()

    def submit(self, observations, seeds, single: bool = False) -> _Job | None:
        """The answered job, or None when the server stops first."""
        job = _Job(list(observations), [int(s) for s in seeds], single)
        self.jobs.put(job)
        while not job.done.wait(0.2):
            if self.stopping.is_set():
                return None
        return job

    def _act(self, jobs: list[_Job]) -> None:
        obs = [o for j in jobs for o in j.observations]
        t0 = time.perf_counter()
        try:
            actions = np.asarray(self.agent.act(obs, seeds=[s for j in jobs for s in j.seeds]), dtype=np.float64)
            if actions.shape != (len(obs), ACTION_DIM):
                raise ValueError(f"act() returned shape {actions.shape}, expected ({len(obs)}, {ACTION_DIM})")
        except Exception as e:
            if len(jobs) > 1:  # one job's observation may be the cause: answer each alone
                for j in jobs:
                    self._act([j])
                return
            jobs[0].error = f"agent_error: {type(e).__name__}: {e}"
        else:
            secs, i = time.perf_counter() - t0, 0
            for j in jobs:
                j.actions, j.seconds = actions[i:i + len(j.observations)], secs
                i += len(j.observations)
        for j in jobs:
            if self.log:
                self.log(f"{len(j.observations)} observation(s) in {j.seconds:.3f} s (batch of {len(obs)})"
                         if j.error is None else f"agent error: {j.error}")
            j.done.set()

    def run(self, alive) -> None:
        """Answer jobs while `alive()`."""
        try:
            while alive():
                try:
                    job = self.jobs.get(timeout=0.2)
                except queue.Empty:
                    continue
                jobs = [job]
                while job.single and len(jobs) < MAX_BATCH:  # the others waiting now join it
                    try:
                        nxt = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if not nxt.single:
                        self._act(jobs)
                        jobs = [nxt]
                        break
                    jobs.append(nxt)
                self._act(jobs)
        finally:
            self.stopping.set()  # Ctrl-C or shutdown: waiting connections give up, so the server can close


@dataclass
class Served:
    """What a connection handler needs: the batcher, the agent's description and the protocol's settings."""

    batcher: Batcher
    name: str
    parameter_counts: dict
    checkpoint: dict | None
    keys: tuple  # the observation entries the agent reads
    keymap: dict  # wire name -> entry (openpi, vla-eval)
    limits: dict  # codec.decode's limits
    log: object = None

    @property
    def wire_keys(self) -> list:
        """The wire names of the entries the agent reads (what a greeting asks clients for)."""
        return [w for w, e in self.keymap.items() if e in self.keys]

    def note(self, line: str) -> None:
        if self.log:
            self.log(line)


def _observation(s: Served, message: dict) -> dict:
    obs = keymap.from_wire(message, s.keymap, s.keys)
    protocol.check_observation(obs, s.keys)
    return obs


def handle_v1(conn, s: Served) -> None:
    conn.send(protocol.encode(protocol.hello(s.name, s.parameter_counts, s.checkpoint, s.keys)))
    for data in conn:
        rid = None
        try:
            m = protocol.decode(data, **s.limits)
            rid = m.get("id")
            rid, obs, seeds = protocol.check_request(m, s.keys)
        except ProtocolError as e:
            conn.send(protocol.encode(protocol.error_reply(rid, f"malformed request: {e}")))
            s.note(f"rejected a malformed request: {e}")
            continue
        job = s.batcher.submit(obs, seeds)
        if job is None:
            return
        reply = (protocol.error_reply(rid, job.error) if job.error else
                 protocol.actions_reply(rid, job.actions, job.seconds))
        conn.send(protocol.encode(reply))


def handle_openpi(conn, s: Served) -> None:
    conn.send(openpi.encode(openpi.metadata(s.name, s.parameter_counts, s.checkpoint, s.wire_keys)))
    for data in conn:
        try:
            obs = _observation(s, codec.decode_map(data, **s.limits))
        except ProtocolError as e:
            error = f"malformed request: {e}"
        else:
            job = s.batcher.submit([obs], [zlib.crc32(data)], single=True)
            if job is None:
                return
            if job.error is None:
                conn.send(openpi.encode(openpi.actions_message(job.actions[0], job.seconds)))
                continue
            error = job.error
        s.note(f"openpi: {error}")
        conn.send(error)  # openpi's way: the error as a text frame, then close
        conn.close(openpi.ERROR_CLOSE_CODE, "error; its text is the previous frame")
        return


def handle_vla_eval(conn, s: Served) -> None:
    seed = 0

    def send(kind, payload, seq):
        conn.send(vlaeval.encode(kind, payload, seq))

    for data in conn:
        seq = None
        try:
            kind, payload, seq = vlaeval.decode(data, **s.limits)
            if kind == "observation":
                obs = _observation(s, payload)
        except ProtocolError as e:
            s.note(f"vla-eval: rejected a malformed message: {e}")
            send("error", {"error": f"malformed message: {e}"}, seq if isinstance(seq, int) else 0)
            continue
        if kind == "hello":
            send("hello", vlaeval.hello_payload(model_server=s.name, capabilities={},
                                                parameter_counts=s.parameter_counts, observation_keys=s.wire_keys),
                 seq)
        elif kind == "episode_start":
            task = payload.get("task")
            seed = task.get("seed", 0) if isinstance(task, dict) else 0
            seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        elif kind == "observation":
            job = s.batcher.submit([obs], [seed], single=True)
            if job is None:
                return
            if job.error is None:
                send("action", {"actions": job.actions[0]}, seq)
            else:
                send("error", {"error": job.error}, seq)
        elif kind in ("action", "error"):
            s.note(f"vla-eval: the client sent {kind}: {payload}")


HANDLERS = {"robomamba": handle_v1, openpi.NAME: handle_openpi, vlaeval.NAME: handle_vla_eval}


def health(connection, request):
    """Answer openpi's and vla-eval's health checks (GET /healthz, GET /health) instead of a handshake."""
    path = request.path.split("?")[0]
    if path == openpi.HEALTH_PATH:
        return connection.respond(200, "OK\n")
    if path == vlaeval.HEALTH_PATH:
        response = connection.respond(200, '{"status": "ok"}\n')
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response
    return None


def serve(agent, host: str = "127.0.0.1", port: int = 8765, checkpoint: dict | None = None, log=None, ready=None,
          protocol_name: str = "robomamba", keys: dict | None = None, max_frame_bytes: int = codec.MAX_FRAME_BYTES,
          max_array_bytes: int = codec.MAX_ARRAY_BYTES) -> None:
    """Answer `protocol_name`'s requests with `agent` until the process is stopped (or `ready`'s server is
    shut down: `ready(server)` is called once listening). `keys`: the key map of openpi/vla-eval (None:
    the protocol's default)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import serve as ws_serve

    from infra.files import to_jsonable

    if protocol_name not in HANDLERS:
        raise ValueError(f"unknown protocol {protocol_name!r}; allowed: {', '.join(HANDLERS)}")
    wanted = tuple(agent.observation_keys)
    km = keymap.parse(None, protocol_name) if keys is None else dict(keys)
    if protocol_name != "robomamba":
        unmapped = [k for k in wanted if k not in km.values()]
        if unmapped:
            raise ValueError(f"the key map gives no wire name for {', '.join(unmapped)}, which {agent.name} reads")
    batcher = Batcher(agent, log)
    served = Served(batcher, agent.name, agent.parameter_counts(), to_jsonable(checkpoint), wanted, km,
                    {"max_array_bytes": max_array_bytes, "max_frame_bytes": max_frame_bytes}, log)
    handle = HANDLERS[protocol_name]

    def handler(conn):
        try:
            handle(conn, served)
        except ConnectionClosed:
            pass

    with ws_serve(handler, host, port, max_size=max_frame_bytes, compression=None, process_request=health) as server:
        listener = threading.Thread(target=server.serve_forever, daemon=True)
        listener.start()
        if ready is not None:
            ready(server)
        batcher.run(listener.is_alive)
