r"""An openpi-style policy server built on openpi-client's own msgpack_numpy module (pip install
openpi-client websockets), serving minimal_server.py's centre policy the way openpi's
WebsocketPolicyServer serves a model: metadata on connect, then one observation in, {"actions": (T, 8)}
out; an error goes back as a text frame (the traceback) and the connection closes; GET /healthz answers.
It imports nothing of robomamba-bench. Evaluate it on the benchmark:

    python openpi_server.py --port 8000
    python -m evaluation.run --agent remote --policy-protocol openpi --policy-url ws://localhost:8000 \
        --label centre-openpi

Observation keys are the benchmark's default for openpi (docs/remote_policy.md): observation/image,
observation/depth, observation/object_mask, observation/intrinsics, ..., prompt.
"""
import argparse
import traceback

import numpy as np
from minimal_server import policy
from openpi_client import msgpack_numpy
from websockets.sync.server import serve

HORIZON = 4  # openpi servers answer an action chunk; the benchmark takes its first row


def handler(conn):
    conn.send(msgpack_numpy.packb({"policy": "minimal-centre", "action_horizon": HORIZON}))
    for data in conn:
        try:
            o = msgpack_numpy.unpackb(data)
            obs = {"object_mask": o["observation/object_mask"], "intrinsics": o["observation/intrinsics"]}
            action = np.asarray(policy(obs, None), dtype=np.float64)
            conn.send(msgpack_numpy.packb({"actions": np.tile(action, (HORIZON, 1))}))
        except Exception:
            conn.send(traceback.format_exc())
            conn.close(1011, "Internal server error. Traceback included in previous frame.")
            return


def health(connection, request):
    return connection.respond(200, "OK\n") if request.path == "/healthz" else None


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = ap.parse_args()
    with serve(handler, args.host, args.port, max_size=None, compression=None, process_request=health) as server:
        print(f"serving minimal-centre (openpi) on ws://{args.host}:{server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()
