"""Worker processes for simulation, shared by data collection and evaluation.

A *handler* is an object whose `handle(message, emit)` does the work a message asks for and reports
back through `emit(reply)` (as often as it likes). `WorkerPool` runs one handler per spawned
process: each process has its own inbox, every reply goes to one shared outbox tagged with the
worker's number. Processes start with one BLAS/OpenMP thread each (the parallelism is processes),
ignore Ctrl-C (the parent handles it and stops them), and exit on their own as soon as the parent is
gone, so a killed job leaves no orphans; `parent_gone()` lets a long handler stop early. A process
that dies is reported by `dead()` and replaced by `restart()`. `InlineWorkers` runs one handler in
the calling process behind the same interface (deterministic, for debugging and tests).
"""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
import traceback
from collections import deque

DRAIN_WAIT = 0.003  # seconds: a large reply may still be on its way through the pipe
_ERROR = "__worker_error__"
_parent_pid: int | None = None  # set in worker processes


class WorkerDied(RuntimeError):
    """A worker process failed or died more often than the job allows."""


def parent_gone() -> bool:
    """True in a worker process whose parent has exited (always False in the parent)."""
    return _parent_pid is not None and os.getppid() != _parent_pid


@contextlib.contextmanager
def single_threaded_children():
    """Processes started inside inherit one BLAS/OpenMP thread each."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_main(rank: int, factory, args: tuple, inbox, outbox, parent_pid: int) -> None:
    global _parent_pid
    _parent_pid = parent_pid
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def orphaned() -> bool:
        if not parent_gone():
            return False
        outbox.cancel_join_thread()  # nobody will read what is still buffered: do not wait at exit
        return True

    try:
        handler = factory(*args)
        emit = lambda reply: outbox.put((rank, reply))  # noqa: E731
        while True:
            try:
                msg = inbox.get(timeout=1.0)
            except queue.Empty:
                if orphaned():
                    return
                continue
            if msg is None or orphaned():
                return
            handler.handle(msg, emit)
    except BaseException:
        outbox.put((rank, (_ERROR, traceback.format_exc())))
        orphaned()


class WorkerPool:
    """`n` spawned processes, each running the handler `factory(*args)` (both picklable)."""

    def __init__(self, factory, args: tuple, n: int):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.factory, self.args = factory, args
        self.outbox = self.ctx.Queue()
        self.procs, self.inboxes = {}, {}
        self.workers = list(range(n))
        for w in self.workers:
            self._spawn(w)

    def _spawn(self, w: int) -> None:
        self.inboxes[w] = self.ctx.Queue()
        with single_threaded_children():
            p = self.ctx.Process(target=_worker_main, daemon=True,
                                 args=(w, self.factory, self.args, self.inboxes[w], self.outbox, os.getpid()))
            p.start()
        self.procs[w] = p

    def send(self, worker: int, message) -> None:
        self.inboxes[worker].put(message)

    def poll(self, timeout: float = 0.0) -> list[tuple[int, object]]:
        """(worker, reply) pairs that arrived within `timeout` seconds (all that are there);
        WorkerDied if a handler raised."""
        got = []
        try:
            got.append(self.outbox.get(timeout=max(timeout, DRAIN_WAIT)))
            while True:  # get_nowait would miss a reply whose sender is between two pipe writes
                got.append(self.outbox.get(timeout=DRAIN_WAIT))
        except queue.Empty:
            pass
        for w, reply in got:
            if isinstance(reply, tuple) and reply and reply[0] == _ERROR:
                raise WorkerDied(f"worker {w} failed:\n{reply[1]}")
        return got

    def dead(self) -> list[tuple[int, int]]:
        """(worker, exit code) of processes that exited."""
        return [(w, p.exitcode) for w, p in self.procs.items() if not p.is_alive()]

    def restart(self, worker: int) -> None:
        self.inboxes[worker].cancel_join_thread()
        self._spawn(worker)

    def close(self) -> None:
        for q in self.inboxes.values():
            q.put(None)
        deadline = time.time() + 5
        for p in self.procs.values():
            p.join(timeout=max(0.1, deadline - time.time()))
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
        for q in (*self.inboxes.values(), self.outbox):
            q.cancel_join_thread()


class InlineWorkers:
    """One handler in this process, as worker 0: `send` runs it at once, `poll` returns its replies."""

    def __init__(self, handler):
        self.handler = handler
        self.workers = [0]
        self.replies: deque = deque()

    def send(self, worker: int, message) -> None:
        self.handler.handle(message, lambda reply: self.replies.append((0, reply)))

    def poll(self, timeout: float = 0.0) -> list[tuple[int, object]]:
        out = list(self.replies)
        self.replies.clear()
        return out

    def dead(self) -> list:
        return []

    def close(self) -> None:
        close = getattr(self.handler, "close", None)
        if close is not None:
            close()


def dispatch(pool, take, on_reply, on_lost, max_restarts: int = 3) -> None:
    """Keep every worker of `pool` busy with one item at a time until `take()` has nothing more
    (None) and every item is finished. `on_reply(worker, item, reply)` returns True when the reply
    finishes the item (a worker may send progress replies before). A worker that dies is replaced
    and `on_lost(item)` gets its item back (to hand out again); WorkerDied after `max_restarts`."""
    running = {w: None for w in pool.workers}
    restarts = 0
    while True:
        for w in pool.workers:
            if running[w] is None and (item := take()) is not None:
                running[w] = item
                pool.send(w, item)
        if all(v is None for v in running.values()):
            return
        replies = pool.poll(timeout=1.0)
        for w, reply in replies:
            if on_reply(w, running[w], reply):
                running[w] = None
        for w, code in ([] if replies else pool.dead()):
            restarts += 1
            if restarts > max_restarts:
                raise WorkerDied(f"worker processes died {restarts} times (last exit code {code}); finished work "
                                 f"is kept: rerun the same command to resume")
            if running[w] is not None:
                on_lost(running[w])
                running[w] = None
            pool.restart(w)
