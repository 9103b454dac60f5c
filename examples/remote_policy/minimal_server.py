"""A policy server for robomamba-bench in ~50 lines, without importing robomamba-bench: only numpy,
msgpack and websockets (pip install numpy msgpack websockets), so it runs in your model's own
environment. Replace `policy` with your model. Protocol: docs/remote_policy.md.

    python minimal_server.py --port 8765
    python -m evaluation.run --agent remote --policy-url ws://localhost:8765 --label mine   # the benchmark
"""
import argparse

import msgpack
import numpy as np
from websockets.sync.server import serve

PROTOCOL = "robomamba-bench/policy/v1"


def pack(o):  # numpy array -> {"__ndarray__", dtype, shape, data}
    if isinstance(o, np.ndarray):
        return {"__ndarray__": True, "dtype": o.dtype.str, "shape": list(o.shape), "data": o.tobytes()}
    raise TypeError(type(o))


def unpack(m):
    if m.get("__ndarray__"):
        return np.frombuffer(m["data"], dtype=m["dtype"]).reshape(m["shape"])
    return m


def policy(obs, seed):
    """[row, col, up (3), forward (3)]: the object pixel nearest the mask's centroid, pulled along the
    line of sight (camera frame: x right, y down, z forward)."""
    pix = np.argwhere(obs["object_mask"])
    if not len(pix):
        return [np.nan] * 8  # no action: the episode fails
    r, c = pix[np.argmin(((pix - pix.mean(0)) ** 2).sum(1))]
    K = obs["intrinsics"]
    up = np.array([(c + 0.5 - K[0, 2]) / K[0, 0], (r + 0.5 - K[1, 2]) / K[1, 1], 1.0])
    up /= np.linalg.norm(up)
    fw = np.cross(up, [0.0, 1.0, 0.0])
    return [r, c, *up, *(fw / np.linalg.norm(fw))]


def handler(conn):
    conn.send(msgpack.packb({"type": "hello", "protocol": PROTOCOL, "agent": "minimal-centre",
                             "parameter_counts": {"total": 0, "trainable": 0}}, default=pack))
    for data in conn:
        req = msgpack.unpackb(data, object_hook=unpack)
        try:
            acts = np.array([policy(o, s) for o, s in zip(req["observations"], req["seeds"])], dtype=np.float64)
            reply = {"type": "actions", "id": req["id"], "actions": acts, "seconds": 0.0}
        except Exception as e:  # tell the client; keep serving
            reply = {"type": "error", "id": req.get("id"), "error": f"agent_error: {type(e).__name__}: {e}"}
        conn.send(msgpack.packb(reply, default=pack))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = ap.parse_args()
    with serve(handler, args.host, args.port, max_size=None, compression=None) as server:
        print(f"serving minimal-centre on ws://{args.host}:{server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()
