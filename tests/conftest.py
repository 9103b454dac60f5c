import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_WORKERS = 4  # parallel test processes (pytest -n auto, pyproject.toml): each builds its own session fixtures

if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and not os.environ.get("OMP_NUM_THREADS"):
    # the cores shared among the workers (before torch is imported: it sizes its thread pool then, and the CLIs
    # the tests start inherit it); torch's default of one thread per core in every worker oversubscribes the CPU
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: one worker per core, at most MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def run_main(module: str, *argv) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGV` run in this process, its output captured: the same CLI (parse, exit codes,
    messages), without a new interpreter's imports and first render (7-10 s a command on this machine).
    Tests whose point is a separate process (kill -9, another PYTHONPATH, a server) start one instead."""
    import contextlib
    import importlib
    import io

    main = importlib.import_module(module).main
    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess([module, *argv], code or 0, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """examples/agent_plugin (its deterministic `centre` agent) installed (pip, no network: no build
    isolation, no dependencies) into a folder of its own, and an environment whose PYTHONPATH holds it."""
    import shutil
    import sys

    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "agent_plugin"
    shutil.copytree(ROOT / "examples" / "agent_plugin", source)  # the build writes beside the sources
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)],
                   check=True, cwd=source, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert list(target.glob("robomamba_bench_example_plugin-*.dist-info"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


@pytest.fixture
def plugin_path(installed):
    """The installed example plugin on this process's sys.path for one test (entry points included), so a
    CLI run in this process (run_main) sees its agents."""
    import importlib
    import sys

    folder = installed["PYTHONPATH"].split(os.pathsep)[0]
    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    try:
        yield folder
    finally:
        sys.path.remove(folder)
        importlib.invalidate_caches()


@pytest.fixture(scope="session")
def env():
    """One environment for the session (the first render compiles shaders: ~10 s on lavapipe)."""
    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    e = make_env(PullEnvConfig(task="StorageFurniture", split="test"))
    yield e
    e.close()


@pytest.fixture(scope="session")
def demos(env, tmp_path_factory):
    """A small collection with failures kept: 2 tasks x 6 demos (training tests)."""
    from data_collection.collect import collect
    from data_collection.config import CollectConfig

    out = tmp_path_factory.mktemp("train_demos")
    collect(CollectConfig(categories="drawer,laptop", samples=6, block_size=8, workers=0, out=str(out),
                          keep_failures=True), ["drawer", "laptop"], env=env, progress=False)
    return out


def expert(env, seed):
    return env.unwrapped.privileged().expert_action(np.random.default_rng(seed))


def kill_9_and_check_orphans(proc, what: str) -> None:
    """SIGKILL `proc` (a running CLI) and check that its worker processes stop by themselves."""
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for pid in map(int, children):  # orphaned workers notice and stop (30 s: a loaded machine is slow to let them)
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"worker {pid} kept running after {what} was killed")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (FileNotFoundError, IndexError):
        return "zombie"
