"""Where a job's simulation workers run: `--executor local` (processes of this machine,
infra.workers) or `--executor ray` (Ray actors, on this machine or a cluster). `make_workers` builds
either behind one interface (send / poll / dead / restart / close).

`RayPool` has the interface of infra.workers.WorkerPool, with each handler in a Ray actor, so a job's
simulation can spread over a cluster.

    pool = RayPool(EpisodeWorker, (env_config, 1, None), n=64)   # 64 actors, one CPU each

`connect(address)` joins a Ray cluster once per process: None starts a local instance (this
machine's cores), "auto" joins the cluster this machine belongs to (`ray start` ran here), and
"HOST:PORT" joins the head node at that address. Every node must have this project installed at the
same path (the actors import it; nothing is shipped), and the job's output directory must be on a
file system every node sees when actors write to it (data collection writes its shards there).

Each actor runs one handler with one CPU (Ray sets OMP_NUM_THREADS to the actor's CPUs), answers each
message with the list of replies the handler emitted, and is replaced by `restart()` when it dies; a
message's replies come back in the order the messages were sent. The job's driver (this process)
keeps the work list, the records and the resume logic, exactly as with local worker processes.
"""
from __future__ import annotations

import itertools
import os
import re

from .cli import ConfigError, option
from .workers import InlineWorkers, WorkerDied, WorkerPool

RAY_INSTALL = "pip install -e '.[ray]'"
ADDRESS_HELP = ("Ray cluster to run on: None = start a local Ray instance on this machine's cores, 'auto' = "
                "the cluster this machine joined with `ray start`, HOST:PORT = that head node (--executor ray)")


EXECUTORS = ("local", "ray")


class RayMissing(ImportError):
    pass


def executor_option():
    return option("local", "where simulation workers run: 'local' (processes on this machine) or 'ray' (Ray actors "
                           f"on this machine or a cluster, see --ray-address; needs {RAY_INSTALL})", choices=EXECUTORS)


def ray_address_option():
    return option(None, ADDRESS_HELP)


def check_executor(config) -> None:
    """ConfigError for a config's executor / ray_address / workers that cannot work together (Ray not
    installed, a malformed address, an address without Ray, Ray without workers)."""
    if config.executor not in EXECUTORS:
        raise ConfigError("executor", config.executor, f"allowed: {', '.join(EXECUTORS)}")
    if config.executor != "ray":
        if config.ray_address is not None:
            raise ConfigError("ray_address", config.ray_address, "only --executor ray joins a Ray cluster")
        return
    try:
        require_ray()
    except RayMissing as e:
        raise ConfigError("executor", "ray", str(e)) from None
    try:
        check_address(config.ray_address)
    except ValueError as e:
        raise ConfigError("ray_address", config.ray_address, str(e)) from None
    if config.workers < 1:
        raise ConfigError("workers", config.workers, "--executor ray needs at least one simulation actor")


def join_or_die(config) -> None:
    """For --executor ray: join (or start) the Ray cluster now, so that an unreachable --ray-address
    exits 2 with one line before any work starts."""
    if getattr(config, "executor", "local") != "ray":
        return
    from .cli import die

    try:
        connect(config.ray_address)
    except Exception as e:
        where = f"--ray-address {config.ray_address}" if config.ray_address else "--executor ray"
        die(f"{where}: cannot {'join the Ray cluster' if config.ray_address else 'start a local Ray instance'} "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")


def make_workers(factory, args: tuple, n: int, executor: str = "local", address: str | None = None, inline=None):
    """`n` workers running `factory(*args)`: Ray actors, spawned processes, or (n = 0, local) the handler
    `inline` (default: `factory(*args)`) in this process."""
    if executor == "ray":
        return RayPool(factory, args, n, address)
    if n == 0:
        return InlineWorkers(inline if inline is not None else factory(*args))
    return WorkerPool(factory, args, n)


def require_ray():
    """The ray module, or RayMissing saying how to install it.

    Ray >= 2.59 starts clusters (`ray start`, a local `ray.init()`) with token authentication, but a
    driver that joins one by address sends its token only with RAY_AUTH_MODE=token set before Ray is
    imported: set here when a token is at hand (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or Ray's default
    ~/.ray/auth_token) and the variable is unset. RAY_AUTH_MODE=disabled joins a cluster without it."""
    if "RAY_AUTH_MODE" not in os.environ and (
            os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or os.path.exists(os.path.expanduser(os.path.join("~", ".ray", "auth_token")))):
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError as e:
        raise RayMissing(f"Ray is not installed ({e}); install the extra: {RAY_INSTALL}") from None
    return ray


def check_address(address) -> str | None:
    """The address, or ValueError unless it is None, 'auto' or HOST:PORT."""
    if address is None or address == "auto" or re.fullmatch(r"[\w.\-]+:\d{1,5}", str(address)):
        return address
    raise ValueError("must be 'auto' or HOST:PORT (e.g. 10.0.0.1:6379), or left out to start a local instance")


def connect(address: str | None = None):
    """Join (or start, with None) a Ray cluster once per process; returns the ray module."""
    ray = require_ray()
    if address not in (None, "auto") and not ray.is_initialized():
        import socket

        host, port = str(address).rsplit(":", 1)
        try:  # Ray itself keeps retrying an address where nothing listens
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as e:
            raise ConnectionError(f"nothing answers at {address}: {e}") from None
    if not ray.is_initialized():
        kwargs = dict(address=address, include_dashboard=False, log_to_driver=False, configure_logging=True,
                      logging_level="ERROR")
        if address is None:
            kwargs["num_cpus"] = os.cpu_count()
        ray.init(**kwargs)
    return ray


class _HandlerActor:
    """A Ray actor holding one handler (see infra.workers): `handle(message)` returns its replies."""

    def __init__(self, factory, args):
        self.handler = factory(*args)

    def handle(self, message) -> list:
        out: list = []
        self.handler.handle(message, out.append)
        return out

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        close = getattr(self.handler, "close", None)
        if close is not None:
            close()


class RayPool:
    """`n` Ray actors (one CPU each), each running the handler `factory(*args)`."""

    def __init__(self, factory, args: tuple, n: int, address: str | None = None, num_cpus: float = 1):
        self.ray = connect(address)
        self.actor_class = self.ray.remote(num_cpus=num_cpus, max_restarts=0)(_HandlerActor)
        self.factory, self.args = factory, args
        self.workers = list(range(n))
        self.actors: dict = {}
        self.pending: dict = {}  # ObjectRef -> (sequence number, worker)
        self.died: dict[int, int] = {}
        self.seq = itertools.count()
        for w in self.workers:
            self.actors[w] = self.actor_class.remote(factory, args)

    def send(self, worker: int, message) -> None:
        self.pending[self.actors[worker].handle.remote(message)] = (next(self.seq), worker)

    def poll(self, timeout: float = 0.0) -> list[tuple[int, object]]:
        """(worker, reply) pairs of every message answered within `timeout` seconds, in sending order
        per worker; WorkerDied if a handler raised. An actor found dead is reported by `dead()`."""
        import time

        from ray.exceptions import RayActorError, RayTaskError

        if not self.pending:
            time.sleep(timeout)
            return []
        refs = list(self.pending)
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        got = []
        for ref in sorted(ready, key=lambda r: self.pending[r][0]):
            if ref not in self.pending:
                continue  # dropped with its dead actor below
            w = self.pending.pop(ref)[1]
            try:
                replies = self.ray.get(ref)
            except RayTaskError as e:
                raise WorkerDied(f"worker {w} failed:\n{e}") from None
            except RayActorError:
                self._lost(w)
                continue
            got.extend((w, r) for r in replies)
        return got

    def _lost(self, w: int) -> None:
        self.died[w] = -9
        for ref in [r for r, (_, ww) in self.pending.items() if ww == w]:
            del self.pending[ref]

    def dead(self) -> list[tuple[int, int]]:
        """(worker, exit code) of actors that died (-9: the code is not known through Ray)."""
        return list(self.died.items())

    def restart(self, worker: int) -> None:
        try:
            self.ray.kill(self.actors[worker], no_restart=True)
        except Exception:
            pass
        self._lost(worker)
        self.died.pop(worker, None)
        self.actors[worker] = self.actor_class.remote(self.factory, self.args)

    def pids(self) -> dict[int, int]:
        """worker -> process id of its actor (tests kill one)."""
        return {w: self.ray.get(a.pid.remote()) for w, a in self.actors.items()}

    def close(self) -> None:
        for a in self.actors.values():
            try:
                self.ray.get(a.close.remote(), timeout=5)
            except Exception:
                pass
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:
                pass
        self.actors, self.pending = {}, {}
