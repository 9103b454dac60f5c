r"""A vla-eval model server (pip install vla-eval) serving minimal_server.py's centre policy: a
PredictModelServer subclass run by vla-eval's own serve loop, as any vla-eval model server is. It
imports nothing of robomamba-bench. Evaluate it on the benchmark:

    python vla_eval_server.py --port 8001
    python -m evaluation.run --agent remote --policy-protocol vla-eval --policy-url ws://localhost:8001 \
        --label centre-vla-eval

Observation keys are the benchmark's default for vla-eval (docs/remote_policy.md): images.rgb, depth,
object_mask, target_mask, intrinsics, cam2world, task_description, category.
"""
import argparse

import anyio
import numpy as np
from minimal_server import policy
from vla_eval.model_servers.predict import PredictModelServer
from vla_eval.model_servers.serve import serve_async
from vla_eval.specs import DimSpec


class CentreServer(PredictModelServer):
    def predict(self, obs, ctx):
        return {"actions": np.asarray(policy(obs, None), dtype=np.float64)}

    def get_action_spec(self):
        return {"contact_and_axes": DimSpec(name="contact_and_axes", dims=8, format="row_col_up_forward")}

    def get_observation_spec(self):
        return {}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    args = ap.parse_args()

    async def main():
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve_async, CentreServer(), args.host, args.port)
            print(f"serving minimal-centre (vla-eval) on ws://{args.host}:{port}", flush=True)

    anyio.run(main)
