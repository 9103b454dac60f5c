"""Agent plugins (issue 17, first part): an agent in another installed package registers itself through
the `robomamba_bench.agents` entry point group and is listed and evaluated like a built-in."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "agent_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin installed (pip, no network: no build isolation, no dependencies) into a folder
    of its own, and an environment whose PYTHONPATH holds it."""
    import shutil

    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "agent_plugin"
    shutil.copytree(EXAMPLE, source)  # the build writes next to the sources: keep the repository clean
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)],
                   check=True, cwd=source, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert list(target.glob("robomamba_bench_example_plugin-*.dist-info"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


def test_plugin_is_listed_with_its_origin(installed):
    out = subprocess.run([sys.executable, "-m", "agents"], capture_output=True, text=True, env=installed,
                         cwd=ROOT, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("centre"))
    assert "plugin robomamba-bench-example-plugin 0.1.0" in line and "robomamba_bench_example.agent:CentreAgent" in line
    assert "built-in" in next(l for l in out.splitlines() if l.startswith("random"))


def test_plugin_is_evaluated_like_a_builtin(installed, tmp_path):
    out = tmp_path / "centre"
    cmd = [sys.executable, "-m", "evaluation.run", "--agent", "centre", "--categories", "drawer,Faucet",
           "--episodes", "2", "--workers", "0", "--image-size", "128", "--quiet", "--out", str(out)]
    subprocess.run(cmd, check=True, env=installed, cwd=ROOT, capture_output=True)
    recs = [json.loads(l) for l in (out / "episodes.jsonl").read_text().splitlines()]
    run = json.loads((out / "run.json").read_text())
    assert len(recs) == 4 and run["agent_class"] == "robomamba_bench_example.agent.CentreAgent"
    assert all(r["agent"] == "centre" and len(r["agent_action"]) == 8 for r in recs)
    assert all(r["success"] or r["failure_reason"] for r in recs)


def test_without_the_plugin_the_name_is_refused(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "evaluation.run", "--agent", "centre", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 2 and "unknown agent 'centre'" in p.stderr and "allowed: robomamba" in p.stderr


def test_minimal_remote_server_matches_the_plugin(installed, tmp_path):
    """examples/remote_policy/minimal_server.py (no import of this project) serves the centre policy;
    evaluated as `--agent remote` it gives the plugin agent's outcomes episode by episode."""
    server = subprocess.Popen([sys.executable, str(ROOT / "examples" / "remote_policy" / "minimal_server.py"),
                               "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    try:
        url = server.stdout.readline().split()[-1]
        assert url.startswith("ws://"), url
        runs = {}
        for name, extra in (("remote", ["--policy-url", url]), ("centre", [])):
            out = tmp_path / name
            subprocess.run([sys.executable, "-m", "evaluation.run", "--agent", name, *extra, "--categories",
                            "drawer,Faucet", "--episodes", "2", "--workers", "0", "--image-size", "128", "--quiet",
                            "--out", str(out)], check=True, env=installed, cwd=ROOT, capture_output=True)
            runs[name] = {r["key"]: r for r in map(json.loads, (out / "episodes.jsonl").read_text().splitlines())}
    finally:
        server.kill()
        server.wait()
    assert sorted(runs["remote"]) == sorted(runs["centre"]) and len(runs["centre"]) == 4
    for k, r in runs["centre"].items():
        assert np.allclose(runs["remote"][k]["agent_action"], r["agent_action"], atol=1e-9)
        assert (runs["remote"][k]["success"], runs["remote"][k]["failure_reason"]) == (r["success"], r["failure_reason"])
