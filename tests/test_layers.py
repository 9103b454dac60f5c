"""The import contract (scripts/check_layers.py): infra < sim_envs < data_collection < agents <
evaluation, and no cycles, counting imports inside functions; and the check fails on a violation."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "scripts" / "check_layers.py"
PACKAGES = ("infra", "sim_envs", "data_collection", "agents", "evaluation")


def check(tree: Path) -> subprocess.CompletedProcess:
    """The contract checked on the packages of `tree` (a checkout, or a copy of one)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, str(CHECK)], cwd=tree, env=env, capture_output=True, text=True)


def test_the_tree_keeps_the_contract():
    p = check(ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "import contract holds" in p.stdout


@pytest.fixture
def copy(tmp_path):
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n\n" + text.strip() + "\n")


def test_an_import_up_the_layers_inside_a_function_fails_it(copy):
    append(copy / "sim_envs" / "geometry.py", '''
def _uses_the_evaluator():
    from evaluation.results import stats  # sim_envs may not import evaluation

    return stats
''')
    p = check(copy)
    assert p.returncode == 1
    assert ("layers: sim_envs imports evaluation (a higher layer): sim_envs.geometry -> evaluation.results.stats"
            in p.stdout), p.stdout


def test_two_modules_importing_each_other_fail_it(copy):
    append(copy / "infra" / "files.py", '''
def _helper():
    from infra import cli  # infra.cli imports nothing of infra.files today: this closes a loop

    return cli
''')
    append(copy / "infra" / "cli.py", '''
def _other():
    from infra import files

    return files
''')
    p = check(copy)
    assert p.returncode == 1
    assert "cycle: infra.cli, infra.files (mutual: infra.cli <-> infra.files)" in p.stdout, p.stdout
