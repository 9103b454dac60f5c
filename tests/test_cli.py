"""Command-line tools: outputs on good input, exit code 2 and nothing written on bad input."""
import subprocess
import sys
from pathlib import Path

from conftest import run_main

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    """`python ARGS`: a `-m MODULE` command in this process (conftest.run_main), anything else a subprocess."""
    if args[0] == "-m" and cwd == ROOT:
        return run_main(*args[1:])
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_snapshot_writes_png(tmp_path):
    out = tmp_path / "snap.png"
    r = run("-m", "sim_envs.snapshot", "--category", "cabinet_door", "--instance", "85", "--split", "test",
            "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "door" in r.stdout


def test_snapshot_unknown_category_exits_2(tmp_path):
    out = tmp_path / "snap.png"
    r = run("-m", "sim_envs.snapshot", "--category", "sofa", "--out", str(out))
    assert r.returncode == 2 and "unknown category 'sofa'" in r.stderr and "drawer" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_snapshot_bad_instance_exits_2(tmp_path):
    out = tmp_path / "snap.png"
    r = run("-m", "sim_envs.snapshot", "--category", "drawer", "--instance", "5", "--split", "test", "--out", str(out))
    assert r.returncode == 2 and "not a test instance" in r.stderr and not out.exists()


def test_demo_bad_count_exits_2_and_writes_nothing(tmp_path):
    r = run("-m", "sim_envs.demo", "--episodes", "0", "--out", str(tmp_path / "d"))
    assert r.returncode == 2 and "--episodes 0" in r.stderr and not (tmp_path / "d").exists()


def test_help_explains_flags():
    r = run("-m", "sim_envs.snapshot", "--help")
    assert r.returncode == 0 and "--partnet-dir" in r.stdout and "default" in r.stdout


def test_gallery_writes_a_labelled_grid(tmp_path):
    out = tmp_path / "g.png"
    r = run("-m", "sim_envs.gallery", "--categories", "Faucet,Laptop", "--instances", "2", "--tile", "64",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "4 objects" in r.stdout


def test_gallery_and_openability_reject_bad_input(tmp_path):
    out = tmp_path / "g.png"
    for args, needle in ((["-m", "sim_envs.gallery", "--categories", "Sofa", "--out", str(out)], "'Sofa'"),
                         (["-m", "sim_envs.gallery", "--instances", "0", "--out", str(out)], "--instances 0"),
                         (["-m", "sim_envs.openability", "--categories", "Sofa"], "'Sofa'"),
                         (["-m", "sim_envs.openability", "--instances", "-1"], "--instances -1")):
        r = run(*args)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
