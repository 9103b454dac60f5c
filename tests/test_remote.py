"""The remote policy (issue 17): the wire protocol, `python -m agents.serve`, and `--agent remote`,
whose outcomes equal the local agent's and whose transport failures are recorded with reasons."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_main

from agents.base import Agent

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SMALL = ["--categories", "drawer,Faucet", "--episodes", "2", "--workers", "0", "--image-size", "96", "--quiet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args, port=0):
    """(process, url) of `python -m agents.serve ARGS` once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "agents.serve", "--port", str(port), "--quiet", *args],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving"):
        proc.kill()
        pytest.fail(f"server did not start: {line!r} {proc.stderr.read()}")
    return proc, line.split()[-1]


def evaluate(out, *args, check=True):
    """`python -m evaluation.run SMALL --out OUT ARGS`, in this process (conftest.run_main)."""
    p = run_main("evaluation.run", *SMALL, "--out", out, *args)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def records(out) -> dict:
    return {r["key"]: r for r in map(json.loads, (Path(out) / "episodes.jsonl").read_text().splitlines())}


def reason(r) -> str:
    return r["failure_reason"].split(":")[0]


# ---------------------------------------------------------------------------------------- protocol
def test_arrays_round_trip_exactly():
    from agents.remote.protocol import decode, encode

    msg = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([[True, False]]),
           "c": np.random.default_rng(0).integers(0, 255, (5, 6, 3), dtype=np.uint8), "s": "text", "n": np.int64(7),
           "list": [np.float64(0.5), (1, 2)]}
    back = decode(encode(msg))
    for k in ("a", "b", "c"):
        assert back[k].dtype == msg[k].dtype and np.array_equal(back[k], msg[k])
    assert back["s"] == "text" and back["n"] == 7 and back["list"] == [0.5, [1, 2]]


def test_requests_are_checked():
    from agents.remote.protocol import ProtocolError, act_request, check_request, decode, encode

    obs = {"rgb": np.zeros((4, 4, 3), np.uint8), "depth": np.zeros((4, 4), np.float32),
           "object_mask": np.zeros((4, 4), bool), "target_mask": np.zeros((4, 4), bool),
           "intrinsics": np.eye(3), "cam2world": np.eye(4), "prompt": "open it", "category": "Door"}
    rid, got, seeds = check_request(decode(encode(act_request(3, [obs], [11]))))
    assert rid == 3 and seeds == [11] and np.array_equal(got[0]["rgb"], obs["rgb"])
    bad = [({"type": "hi"}, "unknown message type"), ({"type": "act", "id": "x"}, "'id' must be an integer"),
           ({"type": "act", "id": 1, "observations": []}, "non-empty list"),
           ({"type": "act", "id": 1, "observations": [obs], "seeds": [1, 2]}, "list of 1 integers"),
           ({"type": "act", "id": 1, "observations": [{"rgb": obs["rgb"]}], "seeds": [1]}, "lacks depth"),
           ({"type": "act", "id": 1, "observations": [{**obs, "rgb": "x"}], "seeds": [1]}, "must be an array")]
    for m, text in bad:
        with pytest.raises(ProtocolError, match=text):
            check_request(decode(encode(m)))
    for data in (b"\xc1", encode([1, 2])):
        with pytest.raises(ProtocolError):
            decode(data)


# ---------------------------------------------------------------------------------------- server
def test_server_survives_malformed_requests():
    from websockets.sync.client import connect

    from agents.remote.protocol import act_request, decode, encode

    proc, url = start_server("--agent", "random")
    try:
        with connect(url, max_size=None) as c:
            hello = decode(c.recv(timeout=10))
            assert hello["protocol"] == "robomamba-bench/policy/v1" and hello["agent"] == "random"
            for data in (b"not msgpack", "a text frame", encode({"type": "act", "id": 5}),
                         encode({"type": "act", "id": 6, "observations": [{"rgb": 1}], "seeds": [0]})):
                reply = decode(c.recv(timeout=10)) if c.send(data) is None else None
                assert reply["type"] == "error" and reply["error"].startswith("malformed request:"), reply
            obs = {"rgb": np.zeros((8, 8, 3), np.uint8), "depth": np.ones((8, 8), np.float32),
                   "object_mask": np.ones((8, 8), bool), "target_mask": np.ones((8, 8), bool),
                   "intrinsics": np.array([[8.0, 0, 4], [0, 8, 4], [0, 0, 1]]), "cam2world": np.eye(4),
                   "prompt": "pull", "category": "Door"}
            c.send(encode(act_request(7, [obs, obs], [1, 2])))
            reply = decode(c.recv(timeout=30))
            assert reply["type"] == "actions" and reply["id"] == 7 and reply["actions"].shape == (2, 8)
        assert proc.poll() is None  # still serving
    finally:
        proc.kill()
        proc.wait()


def test_remote_gives_the_local_outcomes(tmp_path):
    proc, url = start_server("--agent", "random")
    try:
        p = evaluate(tmp_path / "remote", "--agent", "remote", "--policy-url", url)
    finally:
        proc.kill()
        proc.wait()
    evaluate(tmp_path / "local", "--agent", "random")
    remote, local = records(tmp_path / "remote"), records(tmp_path / "local")
    assert sorted(remote) == sorted(local) and len(local) == 4
    for k in local:
        assert remote[k]["agent_action"] == local[k]["agent_action"]
        for f in ("success", "success_manipllm", "dq", "failure_reason"):
            assert remote[k][f] == local[k][f], (k, f)
    run = json.loads((tmp_path / "remote" / "run.json").read_text())
    assert run["served_by"]["agent"] == "random" and "remote:" in p.stdout


class _Slow(Agent):
    name = "slow"

    def act(self, observations, seeds=None, privileged=None):
        time.sleep(3)
        return np.zeros((len(observations), 8))


def _thread_server(agent, **options):
    """(url, stop) of agents.serve.serve(agent, **options) in a thread of this process."""
    from agents.serve import serve

    box = {}
    started = threading.Event()

    def ready(server):
        box["server"] = server
        started.set()

    t = threading.Thread(target=serve, args=(agent, "127.0.0.1", 0), kwargs={"ready": ready, **options}, daemon=True)
    t.start()
    assert started.wait(20)
    return f"ws://127.0.0.1:{box['server'].socket.getsockname()[1]}", box["server"].shutdown


class _RgbOnly(_Slow):
    observation_keys = ("rgb", "prompt")
    seen: list = []

    def act(self, observations, seeds=None, privileged=None):
        self.seen.extend(sorted(o) for o in observations)
        return np.tile([1.0, 1.0, 0, 0, 1, 1, 0, 0], (len(observations), 1))


def test_only_the_entries_the_agent_reads_are_sent(tmp_path):
    url, stop = _thread_server(_RgbOnly())
    try:
        evaluate(tmp_path / "k", "--agent", "remote", "--policy-url", url, "--categories", "drawer")
    finally:
        stop()
    assert _RgbOnly.seen == [["prompt", "rgb"]] * 2
    assert all(r["agent_action"] == [1.0, 1.0, 0, 0, 1, 1, 0, 0] for r in records(tmp_path / "k").values())
    from agents import make_agent

    assert make_agent("robomamba").observation_keys == ("rgb", "prompt")


def test_timeouts_are_recorded_failures(tmp_path):
    url, stop = _thread_server(_Slow())
    try:
        evaluate(tmp_path / "t", "--agent", "remote", "--policy-url", url, "--policy-timeout", "0.5",
                 "--categories", "drawer", "--batch-size", "1")
    finally:
        stop()
    recs = records(tmp_path / "t")
    assert len(recs) == 2 and {reason(r) for r in recs.values()} == {"remote_timeout"}
    assert all(not r["success"] for r in recs.values())


def test_malformed_replies_are_recorded_failures(tmp_path):
    """A server that greets properly, then answers every request with a (1, 3) action array."""
    from websockets.sync.server import serve

    from agents.remote.protocol import decode, encode, hello

    def handler(conn):
        conn.send(encode(hello("garbage", {"total": 0, "trainable": 0})))
        for data in conn:
            conn.send(encode({"type": "actions", "id": decode(data)["id"], "actions": np.zeros((1, 3))}))

    with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        evaluate(tmp_path / "m", "--agent", "remote", "--categories", "drawer",
                 "--policy-url", f"ws://127.0.0.1:{server.socket.getsockname()[1]}")
        server.shutdown()
    recs = records(tmp_path / "m")
    assert len(recs) == 2 and {reason(r) for r in recs.values()} == {"remote_malformed"}
    assert "'actions' must be a float array of shape" in next(iter(recs.values()))["failure_reason"]


def test_a_killed_server_gives_recorded_failures_then_resume_completes(tmp_path):
    port = free_port()
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "evaluation.run", *SMALL, "--episodes", "4", "--batch-size", "1",
           "--agent", "remote", "--policy-url", f"ws://127.0.0.1:{port}", "--out", str(out)]
    server, _ = start_server("--agent", "random", port=port)
    run = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "episodes.jsonl"
    for _ in range(600):  # kill the server once two episodes are in
        if log.exists() and len(log.read_text().splitlines()) >= 2 or run.poll() is not None:
            break
        time.sleep(0.1)
    server.send_signal(signal.SIGKILL)
    server.wait()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 1 and "cannot be reached" in err and "rerun the same command" in err, err
    first = records(out)
    assert 2 <= len(first) < 8
    assert any(reason(r) == "remote_disconnected" for r in first.values())
    server, _ = start_server("--agent", "random", port=port)
    try:
        subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, capture_output=True)
    finally:
        server.kill()
        server.wait()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 8 and len({r["key"] for r in lines}) == 8  # every episode exactly once
    assert {k: r["failure_reason"] for k, r in records(out).items() if k in first} == \
        {k: r["failure_reason"] for k, r in first.items()}  # what was recorded stays recorded


# ---------------------------------------------------------------------------------------- CLI errors
@pytest.mark.parametrize("args, text", [
    (["--agent", "remote"], "--policy-url None: --agent remote needs the server's address"),
    (["--agent", "random", "--policy-url", "ws://localhost:1"], "only --agent remote takes a policy server"),
    (["--agent", "remote", "--policy-url", "http://x:1"], "must be ws://HOST:PORT"),
    (["--agent", "remote", "--policy-url", "ws://127.0.0.1:1"], "cannot be reached"),
    (["--agent", "remote", "--policy-url", "ws://127.0.0.1:1", "--policy-timeout", "0"], "must be > 0"),
])
def test_evaluation_flags_are_checked(tmp_path, args, text):
    p = evaluate(tmp_path / "x", *args, check=False)
    assert p.returncode == 2 and text in p.stderr, p.stderr
    assert not (tmp_path / "x" / "episodes.jsonl").exists()


@pytest.mark.parametrize("args, text", [
    (["--agent", "oracle"], "needs the simulator's privileged state"),
    (["--agent", "remote"], "a server serves a local agent"),
    (["--agent", "robomamba"], "needs --checkpoint DIR (or --untrained"),
    (["--agent", "nope"], "unknown agent 'nope'; allowed: robomamba"),
    (["--agent", "random", "--port", "70000"], "--port 70000: must be at most 65535"),
])
def test_serve_flags_are_checked(args, text):
    p = subprocess.run([sys.executable, "-m", "agents.serve", *args], cwd=ROOT, env=ENV, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and text in p.stderr, p.stderr
