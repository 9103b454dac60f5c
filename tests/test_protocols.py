"""openpi's and vla-eval's policy protocols (issue 30), tested against the published packages themselves
(openpi-client and vla-eval, pinned in requirements/no-deps-dev.txt): their clients against
`agents.serve --protocol ...`, and the `remote` agent against servers built on their own code."""
import json
import subprocess
import sys
import threading
import time
import urllib.request
import zlib

import anyio
import msgpack
import numpy as np
import pytest
from conftest import run_main
from openpi_client import msgpack_numpy
from openpi_client.websocket_client_policy import WebsocketClientPolicy
from test_remote import ENV, ROOT, evaluate, reason, records, start_server
from vla_eval.connection import Connection
from vla_eval.protocol.messages import Message, MessageType, pack_message, unpack_message
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from agents.baselines.random_agent import RandomAgent
from agents.remote import codec, keymap, vlaeval
from agents.remote.codec import ProtocolError

OBS = {"rgb": np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8),
       "depth": np.ones((8, 8), np.float32), "object_mask": np.ones((8, 8), bool),
       "target_mask": np.ones((8, 8), bool), "intrinsics": np.array([[8.0, 0, 4], [0, 8, 4], [0, 0, 1]]),
       "cam2world": np.eye(4), "prompt": "pull the drawer", "category": "drawer"}
OPENPI_OBS = keymap.to_wire(OBS, keymap.DEFAULTS["openpi"])
VLA_OBS = keymap.to_wire(OBS, keymap.DEFAULTS["vla-eval"])


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else
                                        same(a[k], b[k]) if isinstance(a[k], dict) else a[k] == b[k] for k in a)


# ---------------------------------------------------------------------------------------- arrays
def test_the_three_array_styles_decode_and_ours_decode_in_theirs():
    # openpi: bytes keys, numpy scalars as __npgeneric__
    msg = {**OPENPI_OBS, "scale": np.float32(0.25), "steps": np.int64(3)}
    back = codec.decode(msgpack_numpy.packb(msg))
    assert same({k: back[k] for k in OPENPI_OBS}, OPENPI_OBS)
    assert back["scale"] == np.float32(0.25) and back["scale"].dtype == np.float32 and back["steps"] == 3
    theirs = msgpack_numpy.unpackb(codec.encode(msg, keys="bytes"))
    assert same({k: theirs[k] for k in OPENPI_OBS}, OPENPI_OBS) and theirs["scale"].dtype == np.float32
    # vla-eval: its envelope, the image PNG-encoded by its own codec (its default)
    data = pack_message(Message(type=MessageType.OBSERVATION, payload=VLA_OBS, seq=4))
    assert b"__image__" in data and b"png" in data
    kind, payload, seq = vlaeval.decode(data)
    assert (kind, seq) == ("observation", 4) and same(payload, VLA_OBS)
    msg = unpack_message(vlaeval.encode("action", {"actions": np.arange(8.0)}, 9))
    assert msg.type == MessageType.ACTION and msg.seq == 9 and np.array_equal(msg.payload["actions"], np.arange(8.0))


def _array(dtype="<f4", shape=(2,), data=None):
    data = np.zeros(2, np.float32).tobytes() if data is None else data
    return msgpack.packb({"x": {"__ndarray__": True, "dtype": dtype, "shape": list(shape), "data": data}})


def _png(shape, size=(4, 4)):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((*size, 3), np.uint8)).save(buf, format="PNG")
    return msgpack.packb({"x": {"__image__": True, "format": "png", "shape": list(shape), "data": buf.getvalue()}})


@pytest.mark.parametrize("data, text", [
    (_array("|O", data=b"\x80\x04K\x01."), "'|O' is not allowed; allowed: bool, int, uint and float"),  # a pickle
    (_array("<c8", data=bytes(16)), "'<c8' is not allowed"),
    (_array("V8", data=bytes(16)), "'V8' is not allowed"),
    (_array("i4,f4", data=bytes(16)), "is not allowed"),
    (_array("<f9"), "is not a numpy dtype"),
    (_array(shape=(3,)), "holds 8 bytes; shape [3] of <f4 needs 12"),
    (_array(shape=(-1,)), "non-negative integers"),
    (_array(shape=[1] * 9), "at most 8"),
    (_array(shape=(1 << 20, 1 << 20)), "over the limit of"),
    (_png((4, 4, 3), size=(5, 4)), "declared png of 4x4"),
    (msgpack.packb({"x": {"__image__": True, "format": "png", "shape": [4, 4, 3], "data": b"nope"}}),
     "not a readable png"),
    (msgpack.packb({"x": {"__image__": True, "format": "gif", "shape": [4, 4, 3], "data": b""}}), "allowed: raw"),
    ("a text frame", "text frame"),
    (b"\xc1", "not msgpack"),
])
def test_refused_arrays_and_frames(data, text):
    with pytest.raises(ProtocolError, match=text.replace("[", r"\[").replace("]", r"\]")):
        codec.decode(data)


def test_frame_and_array_limits_are_settings():
    assert codec.decode(_png((4, 4, 3)))["x"].shape == (4, 4, 3)
    with pytest.raises(ProtocolError, match="over the limit of 10 bytes"):
        codec.decode(_png((4, 4, 3)), max_array_bytes=10)
    with pytest.raises(ProtocolError, match="frame of .* over the limit of 20 bytes"):
        codec.decode(_array(), max_frame_bytes=20)


def test_key_maps():
    km = keymap.parse("observation/image=rgb, prompt=prompt", "openpi")
    assert km == {"observation/image": "rgb", "prompt": "prompt"}
    assert keymap.text(km) == "observation/image=rgb,prompt=prompt"
    assert keymap.to_wire(OBS, {"images.cam": "rgb"})["images"]["cam"] is OBS["rgb"]
    for text, err in (("observation/image", "not WIRE=ENTRY"), ("a=rgbx", "unknown entry 'rgbx'; allowed: rgb"),
                      ("a=rgb,b=rgb", "mapped twice"), ("a..b=rgb", "not WIRE=ENTRY")):
        with pytest.raises(ValueError, match=err):
            keymap.parse(text, "vla-eval")
    with pytest.raises(ValueError, match="takes no key map"):
        keymap.parse("a=rgb", "robomamba")
    with pytest.raises(ProtocolError, match="lacks 'images.rgb'"):
        keymap.from_wire({"images": {}}, keymap.DEFAULTS["vla-eval"], ("rgb",))


def test_one_observation_protocols_are_batched_across_connections():
    from agents.remote.server import Batcher

    class Counting(RandomAgent):
        calls: list = []

        def act(self, observations, seeds=None, privileged=None):
            self.calls.append(len(observations))
            time.sleep(0.3 if len(self.calls) == 1 else 0)
            return super().act(observations, seeds)

    b = Batcher(Counting())
    jobs = []
    threads = [threading.Thread(target=lambda s=s: jobs.append(b.submit([OBS], [s], single=True))) for s in range(5)]
    threads[0].start()
    time.sleep(0.1)  # the first is being answered while the other four arrive
    for t in threads[1:]:
        t.start()
    runner = threading.Thread(target=b.run, args=(lambda: any(t.is_alive() for t in threads),), daemon=True)
    runner.start()
    for t in threads:
        t.join(20)
    assert sorted(Counting.calls) == [1, 4] or Counting.calls == [5] or sorted(Counting.calls) == [1, 1, 3]
    assert len(Counting.calls) < 5  # batched: fewer calls than observations
    local = RandomAgent().act([OBS] * 5, seeds=list(range(5)))
    got = {j.seeds[0]: j.actions[0] for j in jobs}
    assert all(np.array_equal(got[s], local[s]) for s in range(5))  # each observation its own seed's action


def test_a_batch_over_several_connections_is_answered_together():
    """The remote agent spreads a batch of one-observation requests over its connections; agents.serve
    answers those waiting together, and each observation still gets its own seed's action."""
    from test_remote import _thread_server as serve_in_thread

    from agents.remote.agent import RemoteAgent

    class Counting(RandomAgent):
        calls: list = []

        def act(self, observations, seeds=None, privileged=None):
            self.calls.append(len(observations))
            time.sleep(0.2)  # long enough for the other connections' requests to arrive meanwhile
            return super().act(observations, seeds)

    obs = [{**OBS, "rgb": np.full((8, 8, 3), i, np.uint8)} for i in range(8)]
    for protocol in ("openpi", "vla-eval"):
        from agents.remote import server

        url, stop = serve_in_thread(Counting(), protocol_name=protocol)
        try:
            remote = RemoteAgent(url, 30, protocol, policy_connections=4)
            Counting.calls.clear()
            got = remote.act(obs, seeds=list(range(10, 18)))
            remote.close()
        finally:
            stop()
        assert sum(Counting.calls) == 8 and len(Counting.calls) < 8 and max(Counting.calls) > 1, Counting.calls
        if protocol == "vla-eval":  # seeds travel: the local actions, whatever the batching
            assert np.array_equal(got, RandomAgent().act(obs, seeds=list(range(10, 18))))
        else:  # openpi: seeded by each request frame's CRC32
            frames = [server.openpi.encode(keymap.to_wire(o, keymap.DEFAULTS["openpi"])) for o in obs]
            assert np.array_equal(got, RandomAgent().act(obs, seeds=[zlib.crc32(f) for f in frames]))


# ---------------------------------------------------------------------------------------- our servers
def _http(url: str, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(url.replace("ws://", "http://") + path, timeout=10) as r:
        return r.status, r.read().decode()


def test_openpi_client_against_agents_serve():
    """openpi-client's WebsocketClientPolicy.infer gets the served agent's actions (random, seeded with the
    frame's CRC32, as docs/remote_policy.md says), in openpi's (horizon, 8) form; bad frames get openpi's
    error (a text frame, then the connection closes) and the server goes on serving."""
    proc, url = start_server("--agent", "random", "--protocol", "openpi", "--max-array-mb", "1")
    try:
        client = WebsocketClientPolicy(url)
        meta = client.get_server_metadata()
        assert meta["agent"] == "random" and "observation/image" in meta["observation_keys"]
        reply = client.infer(OPENPI_OBS)
        local = RandomAgent().act([OBS], seeds=[zlib.crc32(msgpack_numpy.packb(OPENPI_OBS))])
        assert reply["actions"].shape == (1, 8) and np.array_equal(reply["actions"], local)
        assert np.array_equal(client.infer(OPENPI_OBS)["actions"], local)  # same observation, same action
        with pytest.raises(RuntimeError, match="Error in inference server:\nmalformed request: .*lacks 'prompt'"):
            WebsocketClientPolicy(url).infer({k: v for k, v in OPENPI_OBS.items() if k != "prompt"})
        complex_image = {b"__ndarray__": True, b"dtype": "<c8", b"shape": [8, 8, 3], b"data": bytes(8 * 8 * 3 * 8)}
        bad = [msgpack.packb({**OPENPI_OBS, "observation/image": complex_image}, default=msgpack_numpy.pack_array),
               msgpack_numpy.packb({**OPENPI_OBS, "observation/depth": np.zeros((600, 600), np.float32)}),
               "a text frame", msgpack_numpy.packb({**OPENPI_OBS, "observation/image": "x"})]
        texts = ("is not allowed", "over the limit of 1000000 bytes", "text frame", "'rgb' must be an array")
        for data, text in zip(bad, texts):
            with connect(url, max_size=None) as c:
                c.recv(timeout=10)  # the metadata
                c.send(data)
                answer = c.recv(timeout=10)
                assert isinstance(answer, str) and text in answer, answer
                with pytest.raises(ConnectionClosed):
                    c.recv(timeout=10)  # closed by the server
                assert c.close_code == 1011
        assert np.array_equal(WebsocketClientPolicy(url).infer(OPENPI_OBS)["actions"], local)  # still serving
        assert _http(url, "/healthz") == (200, "OK\n")
    finally:
        proc.kill()
        proc.wait()


def codec_default(o):
    return {"__ndarray__": True, "dtype": o.dtype.str, "shape": list(o.shape), "data": o.tobytes()}


def _vla_eval(url, steps):
    """Run `steps(conn)` in vla-eval's own async Connection."""
    async def go():
        async with Connection(url, timeout=20, max_retries=1) as conn:
            return await steps(conn)
    return anyio.run(go)


def test_vla_eval_client_against_agents_serve():
    """vla-eval's Connection gets the served agent's actions, seeded from episode_start's task.seed, the image
    sent PNG-encoded by vla-eval's codec; bad frames get vla-eval's error message and the connection stays."""
    proc, url = start_server("--agent", "random", "--protocol", "vla-eval", "--max-array-mb", "1")
    try:
        async def episodes(conn):
            out = []
            for seed in (3, 4):
                await conn.start_episode({"task": {"name": "drawer", "seed": seed}})
                out.append(await conn.act(VLA_OBS))
                await conn.end_episode({"metrics": {"success": False}})
            return conn.server_info, out

        info, actions = _vla_eval(url, episodes)
        assert info["model_server"] == "random" and info["protocol_version"] == 1
        local = RandomAgent().act([OBS, OBS], seeds=[3, 4])
        assert all(np.array_equal(a["actions"], local[i]) for i, a in enumerate(actions))
        with connect(url, max_size=None) as c:
            def ask(data):
                c.send(data)
                return unpack_message(c.recv(timeout=10))

            hello = ask(pack_message(Message(MessageType.HELLO, {"harness_version": "test"}, 1)))
            assert hello.type == MessageType.HELLO
            bad = [(msgpack.packb({"type": "observation", "payload": {}}), "lacks seq"),
                   (msgpack.packb({"type": "observation", "seq": 2, "timestamp": 0.0, "payload": {
                       **VLA_OBS, "depth": {"__ndarray__": True, "dtype": "<c8", "shape": [8, 8], "data": bytes(512)}}},
                                  default=codec_default), "is not allowed"),
                   (vlaeval.encode("observation", {**VLA_OBS, "depth": np.zeros((600, 600), np.float32)}, 3),
                    "over the limit of 1000000 bytes"),
                   (vlaeval.encode("observation", {k: v for k, v in VLA_OBS.items() if k != "images"}, 4),
                    "lacks 'images.rgb'"),
                   ("a text frame", "text frame"), (vlaeval.encode("reset", {}, 6), "unknown message type 'reset'")]
            for data, text in bad:
                m = ask(data)
                assert m.type == MessageType.ERROR and text in m.payload["error"], m.payload
            m = ask(vlaeval.encode("observation", VLA_OBS, 7))  # the same connection still serves
            assert m.type == MessageType.ACTION and m.seq == 7 and m.payload["actions"].shape == (8,)
        assert _http(url, "/health") == (200, '{"status": "ok"}\n')
    finally:
        proc.kill()
        proc.wait()


def test_this_benchmark_runs_under_vla_eval_and_meets_the_same_episodes(tmp_path):
    """evaluation.vla_eval_benchmark.PullBenchmark, episodes run by vla-eval's own SyncEpisodeRunner and
    Connection against `agents.serve --protocol vla-eval`, gives evaluation.run's outcomes: the tasks carry
    the episodes' seeds, which the server seeds the agent with."""
    from vla_eval.runners.sync_runner import SyncEpisodeRunner

    from evaluation.vla_eval_benchmark import PullBenchmark

    bench = PullBenchmark(categories="drawer,Faucet", episodes=2, image_size=96)
    tasks = bench.get_tasks()
    assert [t["name"] for t in tasks] == ["drawer/00000", "drawer/00001", "Faucet/00000", "Faucet/00001"]
    proc, url = start_server("--agent", "random", "--protocol", "vla-eval")
    try:
        async def episodes(conn):
            return {t["name"]: await SyncEpisodeRunner().run_episode(bench, t, conn, max_steps=1) for t in tasks}

        results = _vla_eval(url, episodes)
    finally:
        proc.kill()
        proc.wait()
        bench.cleanup()
    evaluate(tmp_path / "local", "--agent", "random")  # test_remote's SMALL list: the same categories, size
    local = records(tmp_path / "local")
    assert sorted(results) == sorted(local)
    for k, r in local.items():
        m = results[k]["metrics"]
        assert (m["success"], m["success_manipllm"], m["failure_reason"]) == \
            (r["success"], r["success_manipllm"], r["failure_reason"]), k
        assert m["dq"] == pytest.approx(r["dq"] or 0.0) and results[k]["steps"] == 1


# ---------------------------------------------------------------------------------------- our client
def _example(name: str):
    """(process, url) of examples/remote_policy/NAME, which imports nothing of this project."""
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "remote_policy" / name), "--port", "0"],
                            cwd=ROOT / "examples" / "remote_policy", env=env, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split()[-1]
    assert url.startswith("ws://"), url
    return proc, url


def test_remote_over_each_protocol_gives_the_local_episodes(plugin_path, tmp_path):
    """The centre policy served by examples/remote_policy's servers, which import nothing of this project:
    minimal_server.py (this project's protocol: numpy, msgpack, websockets), openpi_server.py (openpi's
    msgpack_numpy) and vla_eval_server.py (vla-eval's own PredictModelServer), gives the local centre
    agent's episodes (batch size 1, since openpi and vla-eval send one observation per call)."""
    common = ["--categories", "drawer,Faucet", "--episodes", "2", "--workers", "0", "--image-size", "96", "--quiet"]

    def run(name, *extra):
        p = run_main("evaluation.run", *common, "--out", tmp_path / name, *extra)
        assert p.returncode == 0, p.stderr
        return records(tmp_path / name)

    local = run("local", "--agent", "centre", "--batch-size", "1")  # the plugin agent (plugin_path)

    for protocol, server in (("robomamba", "minimal_server.py"), ("openpi", "openpi_server.py"),
                             ("vla-eval", "vla_eval_server.py")):
        proc, url = _example(server)
        try:
            remote = run(protocol, "--agent", "remote", "--policy-protocol", protocol, "--policy-url", url)
        finally:
            proc.kill()
            proc.wait()
        assert sorted(remote) == sorted(local) and len(local) == 4
        for k, r in local.items():  # vla-eval's server sends float32 actions
            assert np.allclose(remote[k]["agent_action"], r["agent_action"], atol=1e-6), (protocol, k)
            assert (remote[k]["success"], remote[k]["failure_reason"]) == (r["success"], r["failure_reason"])
        run_json = json.loads((tmp_path / protocol / "run.json").read_text())
        assert run_json["identity"]["policy_protocol"] == protocol
        assert run_json["served_by"]["protocol"] == (protocol if protocol != "robomamba" else
                                                     "robomamba-bench/policy/v1")


def _thread_server(handler):
    from websockets.sync.server import serve

    server = serve(handler, "127.0.0.1", 0, max_size=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}"


ROW = [3.0, 4.0, 0, 0, 1, 1, 0, 0]


def test_foreign_failures_are_recorded_and_no_episode_is_lost(tmp_path):
    """openpi-style: a text error frame (then close) is agent_error with its text, and the client reconnects;
    a (T, 8) chunk gives its first row; an (3,) action is remote_malformed. vla-eval-style: an error message
    is agent_error; an action echoing another seq is remote_malformed."""
    calls = {"openpi": 0, "vla-eval": 0}

    def openpi_handler(conn):
        conn.send(msgpack_numpy.packb({"policy": "scripted"}))
        for _ in conn:
            calls["openpi"] += 1
            n = calls["openpi"]
            if n == 1:
                conn.send("Traceback: ValueError: scripted failure")
                conn.close(1011)
                return
            actions = np.zeros(3) if n == 2 else np.array([ROW, [9.0] * 8])
            conn.send(msgpack_numpy.packb({"actions": actions}))

    def vla_handler(conn):
        for data in conn:
            msg = unpack_message(data)
            if msg.type == MessageType.HELLO:
                conn.send(pack_message(Message(MessageType.HELLO, {"model_server": "scripted"}, msg.seq)))
            elif msg.type == MessageType.OBSERVATION:
                calls["vla-eval"] += 1
                n = calls["vla-eval"]
                reply = (Message(MessageType.ERROR, {"error": "observation_failed: scripted"}, msg.seq) if n == 1 else
                         Message(MessageType.ACTION, {"actions": np.array(ROW)}, msg.seq + (100 if n == 2 else 0)))
                conn.send(pack_message(reply))

    for protocol, handler, malformed in (("openpi", openpi_handler, "'actions' must have shape (8,) or (T, 8)"),
                                         ("vla-eval", vla_handler, "expected the action of observation")):
        server, url = _thread_server(handler)
        try:
            evaluate(tmp_path / protocol, "--agent", "remote", "--policy-protocol", protocol, "--policy-url", url,
                     "--batch-size", "1")
        finally:
            server.shutdown()
        recs = records(tmp_path / protocol)
        assert len(recs) == 4  # every episode recorded, once
        reasons = sorted(reason(r) for r in recs.values() if r["failure_reason"].startswith(("agent_error", "remote")))
        assert reasons == ["agent_error", "remote_malformed"], (protocol, reasons)
        texts = [r["failure_reason"] for r in recs.values()]
        assert any("scripted" in t and t.startswith("agent_error") for t in texts)
        assert any(malformed in t for t in texts), texts
        assert sum(r["agent_action"] == ROW for r in recs.values()) == 2, protocol  # the first row of a chunk


@pytest.mark.parametrize("args, text", [
    (["--agent", "random", "--policy-protocol", "openpi"], "only --agent remote talks to a policy server"),
    (["--agent", "remote", "--policy-url", "ws://127.0.0.1:1", "--policy-protocol", "grpc"], "invalid choice: 'grpc'"),
    (["--agent", "remote", "--policy-url", "ws://127.0.0.1:1", "--policy-protocol", "openpi", "--policy-keys", "img"],
     "--policy-keys img: 'img' is not WIRE=ENTRY"),
    (["--agent", "remote", "--policy-url", "ws://127.0.0.1:1", "--policy-keys", "a=rgb"], "takes no key map"),
])
def test_protocol_flags_are_checked(tmp_path, args, text):
    p = evaluate(tmp_path / "x", *args, check=False)
    assert p.returncode == 2 and text in p.stderr, p.stderr
    assert not (tmp_path / "x" / "episodes.jsonl").exists()


def test_a_server_of_another_protocol_is_named(tmp_path):
    proc, url = start_server("--agent", "random", "--protocol", "openpi")
    try:
        p = evaluate(tmp_path / "x", "--agent", "remote", "--policy-url", url, check=False)
    finally:
        proc.kill()
        proc.wait()
    assert p.returncode == 2 and "openpi's, greeting with bare metadata (--policy-protocol openpi)" in p.stderr, \
        p.stderr
    for args, text in ((["--protocol", "zmq"], "invalid choice: 'zmq'"),
                       (["--protocol", "openpi", "--keys", "prompt=prompt"], "gives no wire name for rgb"),
                       (["--keys", "a=rgb"], "takes no key map")):
        p = subprocess.run([sys.executable, "-m", "agents.serve", "--agent", "robomamba", "--untrained", *args],
                           cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and text in p.stderr, (args, p.stderr)


def test_a_frame_over_the_limit_closes_its_connection_with_1009_and_the_server_serves_on():
    from test_remote import _thread_server as serve_in_thread

    url, stop = serve_in_thread(RandomAgent(), protocol_name="vla-eval", max_frame_bytes=4096)
    try:
        with connect(url, max_size=None) as c:
            c.send(vlaeval.encode("observation", VLA_OBS, 1))  # about 1.2 kB of raw arrays: under the limit
            assert vlaeval.decode(c.recv(timeout=10))[0] == "action"
            c.send(b"\x00" * 5000)
            with pytest.raises(ConnectionClosed):
                c.recv(timeout=10)
            assert c.close_code == 1009  # websockets: message too big
        with connect(url, max_size=None) as c:  # the server goes on
            c.send(vlaeval.encode("observation", VLA_OBS, 2))
            assert vlaeval.decode(c.recv(timeout=10))[0] == "action"
    finally:
        stop()
