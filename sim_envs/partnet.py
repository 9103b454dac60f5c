"""Loader for a real PartNet-Mobility directory (one folder per object id with mobility.urdf,
meta.json and meshes). The category comes from meta.json's `model_cat`.

Objects are normalised like the procedural ones (bounding-box diagonal 1, centred at the origin)
before the episode's scale is applied, and keep PartNet-Mobility's orientation in SAPIEN (front
facing -x, z up).
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from infra.cli import option

from .categories import SEEN, UnknownCategoryError, resolve

TEST_FRACTION_MOD = 5  # seen categories outside the reference lists: ids with crc32(id) % 5 == 0 are test (80/20)
REFERENCE_SPLIT = Path(__file__).with_name("reference_split.json")  # the reference code's train/test id lists
SPLIT_RULES = ("unseen category", "reference lists", "hash")  # how split_rule decides, in order


@dataclass(frozen=True)
class PartNetEntry:
    object_id: str
    category: str
    urdf: Path
    joint_types: tuple[str, ...]  # types of the URDF's movable joints with finite limits


def _urdf_joint_types(urdf: Path, sem: dict | None = None) -> tuple[str, ...]:
    """Types of the URDF's movable joints with finite limits that may be targets (semantics `sem` allow
    their child link: annotated_movable)."""
    types = []
    for j in ET.parse(urdf).getroot().iter("joint"):
        jt = j.get("type")
        if jt in ("prismatic", "revolute"):
            lim = j.find("limit")
            child = j.find("child")
            link = child.get("link") if child is not None else ""
            if (lim is not None and float(lim.get("upper", 0)) > float(lim.get("lower", 0))
                    and annotated_movable(sem or {}, link, jt)):
                types.append(jt)
    return tuple(types)


def _problem(folder: Path) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(why the object folder cannot be used or None, its category, its movable joint types)."""
    urdf, meta = folder / "mobility.urdf", folder / "meta.json"
    for f in (urdf, meta):
        if not f.is_file():
            return f"no {f.name}", None, ()
    try:
        model_cat = json.loads(meta.read_text())["model_cat"]
        cat = resolve(model_cat).category
    except UnknownCategoryError:
        return f"meta.json: unknown category {model_cat!r} (not one of the 30)", None, ()
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        return f"meta.json: {type(e).__name__}: {e}", None, ()
    try:
        meshes = [m.get("filename") for m in ET.parse(urdf).getroot().iter("mesh")]
        joint_types = _urdf_joint_types(urdf, semantics(folder))
    except (ET.ParseError, ValueError) as e:
        return f"mobility.urdf does not parse: {e}", cat, ()
    missing = [m for m in dict.fromkeys(meshes) if not m or not (folder / m).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return f"missing mesh {missing[0]}{more}", cat, ()
    if not joint_types:
        return ("no target joint: no prismatic or revolute joint with finite limits whose link semantics.txt "
                "allows to move"), cat, ()
    return None, cat, joint_types


@lru_cache(maxsize=8)
def index(root: str) -> tuple[dict[str, PartNetEntry], dict[str, str]]:
    """Index a PartNet-Mobility directory: (object id -> entry, skipped folder -> why). A folder is skipped
    without mobility.urdf or meta.json, with an unknown category, a URDF that does not parse, a mesh it
    names that is missing, or no joint that can be a target (movable, finite limits, allowed by
    semantics.txt); FileNotFoundError for a missing directory or one without any usable object."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"PartNet-Mobility directory {root!r} does not exist")
    entries, skipped = {}, {}
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        problem, cat, joint_types = _problem(d)
        if problem:
            skipped[d.name] = problem
        else:
            entries[d.name] = PartNetEntry(d.name, cat, d / "mobility.urdf", joint_types)
    if not entries:
        raise FileNotFoundError(f"no usable object folders (mobility.urdf + meta.json) under {root!r}"
                                + (f"; skipped {len(skipped)}, e.g. {next(iter(skipped))}: "
                                   f"{next(iter(skipped.values()))}" if skipped else ""))
    return entries, skipped


def scan(root: str) -> dict[str, PartNetEntry]:
    """object id -> entry of a PartNet-Mobility directory's usable objects (see index)."""
    return index(root)[0]


def skipped(root: str) -> dict[str, str]:
    """folder -> why it was skipped, of a PartNet-Mobility directory (see index)."""
    return index(root)[1]


SEMANTIC_JOINT = {"hinge": "revolute", "slider": "prismatic", "slider+": "prismatic"}  # semantics.txt's words


def semantics(folder: Path) -> dict[str, tuple[str, str]]:
    """link name -> (joint word, part label) from `folder/semantics.txt` ('link_0 hinge door'); {}
    where the file is missing. Words: hinge, slider (movable), heavy, static, free (not)."""
    path = Path(folder) / "semantics.txt"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) >= 3:
            out[words[0]] = (words[1], words[2])
    return out


def annotated_movable(sem: dict, link: str, joint_type: str) -> bool:
    """May the joint of `link` be a target? Yes unless semantics.txt says the link is not movable
    (heavy, static) or moves another way (a 'slider' on a revolute joint); no file: yes."""
    word = sem.get(link, ("",))[0]
    if word in ("heavy", "static"):
        return False
    return SEMANTIC_JOINT.get(word, joint_type) == joint_type


@lru_cache(maxsize=1)
def reference_split() -> dict[str, str]:
    """object id -> 'train' or 'test' from the reference code's released lists (reference_split.json, with
    the repository and commit they come from)."""
    data = json.loads(REFERENCE_SPLIT.read_text())
    return {**{i: "train" for i in data["train"]}, **{i: "test" for i in data["test"]}}


def split_rule(object_id: str, category: str) -> str:
    """Which of SPLIT_RULES decides an object's split: an unseen category (by the paper) is test only; a seen
    one takes the reference lists' side where they name the id, else the hash of the id."""
    if category not in SEEN:
        return SPLIT_RULES[0]
    return SPLIT_RULES[1] if str(object_id) in reference_split() else SPLIT_RULES[2]


def split_of(object_id: str, category: str) -> str:
    rule = split_rule(object_id, category)
    if rule == SPLIT_RULES[0]:
        return "test"
    if rule == SPLIT_RULES[1]:
        return reference_split()[str(object_id)]
    return "test" if zlib.crc32(object_id.encode()) % TEST_FRACTION_MOD == 0 else "train"


def split_summary(root: str) -> dict:
    """How the objects of a PartNet directory were split, for a run's record: {rule: {'train': n, 'test': n}}
    over SPLIT_RULES, and the reference lists' source."""
    counts = {rule: {"train": 0, "test": 0} for rule in SPLIT_RULES}
    for e in scan(root).values():
        counts[split_rule(e.object_id, e.category)][split_of(e.object_id, e.category)] += 1
    source = json.loads(REFERENCE_SPLIT.read_text())["source"]
    return {"rules": counts, "reference_lists": f"{source['repository']}@{source['commit']}"}


def run_record(root: str, log=None) -> dict:
    """What a run on a PartNet directory records (run.json, manifest.json): how its objects were split and
    the folders it skipped, with why; `log` (default: standard error) gets one line per skipped folder."""
    gone = skipped(root)
    for name, why in gone.items():
        (log or (lambda line: print(line, file=sys.stderr)))(f"partnet: skipping {name}: {why}")
    return {"split": split_summary(root), "skipped": gone}


def instances(root: str, category: str, split: str, joint_type: str | None = None) -> tuple[str, ...]:
    return tuple(e.object_id for e in scan(root).values()
                 if e.category == category and split_of(e.object_id, category) == split
                 and (joint_type is None or joint_type in e.joint_types))


_NORM_CACHE: dict[tuple, tuple[float, np.ndarray]] = {}
COLLISION_MODES = ("coacd", "hull", "pieces")


def _load_raw(scene, urdf: Path, scale: float, friction: float, collision: str):
    loader = scene.create_urdf_loader()
    loader.fix_root_link = True
    loader.scale = scale
    loader.set_material(friction, friction, 0.0)
    if collision == "coacd":
        urdf = collision_urdf(Path(urdf).resolve())
    # "pieces": every part of a mesh file its own convex hull; "hull": one hull per mesh file (SAPIEN's
    # default); the decomposed URDF's meshes hold one convex piece per part, so they load as pieces
    loader.load_multiple_collisions_from_file = collision in ("coacd", "pieces")
    art = loader.load(str(urdf))
    if isinstance(art, list):  # some SAPIEN versions return every articulation in the file
        art = art[0]
    if art is None:
        raise RuntimeError(f"SAPIEN could not load {urdf}")
    return art


def _aabb(art) -> tuple[np.ndarray, np.ndarray]:
    los, his = [], []
    for link in art.get_links():
        if link.get_collision_shapes():
            lo, hi = link.compute_global_aabb_tight()
            los.append(lo)
            his.append(hi)
    return np.min(los, axis=0), np.max(his, axis=0)


def load(scene, entry: PartNetEntry, scale: float, friction: float = 1.0, collision: str = "hull"):
    """Load `entry` into `scene`, normalised to diagonal 1 then scaled; returns the articulation.
    `collision` is one of COLLISION_MODES (docs/protocol.md, "Real PartNet-Mobility objects")."""
    import sapien

    if collision not in COLLISION_MODES:
        raise ValueError(f"collision={collision!r}: allowed: {', '.join(COLLISION_MODES)}")
    key = (str(entry.urdf), collision)
    if key not in _NORM_CACHE:
        probe = _load_raw(scene, entry.urdf, 1.0, friction, collision)
        lo, hi = _aabb(probe)
        scene.remove_articulation(probe)
        _NORM_CACHE[key] = (float(np.linalg.norm(hi - lo)), (lo + hi) / 2)
    diag, centre = _NORM_CACHE[key]
    s = scale / diag
    art = _load_raw(scene, entry.urdf, s, friction, collision)
    art.set_root_pose(sapien.Pose(list(-centre * s)))
    art.set_name(f"partnet/{entry.object_id}")
    return art


# ------------------------------------------------------------------------------ convex decomposition
# CoACD's settings: its concavity threshold, at most 16 hulls per mesh file, and a lighter search than
# its defaults (measured on 6 mesh files of object 41083 on the 2-core VM: 53 s instead of 294 s)
COACD_PARAMS = dict(threshold=0.05, max_convex_hull=16, preprocess_resolution=30, resolution=1000, mcts_nodes=10,
                    mcts_iterations=60, mcts_max_depth=2, seed=0)


def cache_dir() -> Path:
    """Where decompositions are kept: $ROBOMAMBA_BENCH_CACHE, else ~/.cache/robomamba-bench."""
    import os

    root = os.environ.get("ROBOMAMBA_BENCH_CACHE") or Path.home() / ".cache" / "robomamba-bench"
    return Path(root) / "coacd"


def decompose(mesh_file: Path) -> Path:
    """The CoACD decomposition of `mesh_file` as an OBJ with one object per convex piece, cached by the
    file's content hash and the parameters, so a second load of the same mesh costs one hash."""
    import hashlib

    data = Path(mesh_file).read_bytes()
    params = hashlib.sha256(repr(sorted(COACD_PARAMS.items())).encode()).hexdigest()[:12]
    out = cache_dir() / f"{hashlib.sha256(data).hexdigest()[:32]}-{params}.obj"
    if out.exists():
        return out
    import coacd
    import trimesh

    from infra.files import atomic_write_text

    mesh = trimesh.load(mesh_file, force="mesh", process=False)
    coacd.set_log_level("error")
    parts = coacd.run_coacd(coacd.Mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces)), **COACD_PARAMS)
    lines, base = [], 1
    for k, (verts, faces) in enumerate(parts):
        lines.append(f"o piece_{k}")
        lines += [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in verts]
        lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in faces]
        base += len(verts)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


@lru_cache(maxsize=256)
def collision_urdf(urdf: Path) -> Path:
    """A copy of `urdf` (in the cache) whose collision meshes are their CoACD decompositions and whose
    visual meshes point back to the original files."""
    import hashlib

    from infra.files import atomic_write_text

    tree = ET.parse(urdf)
    for tag in ("collision", "visual"):
        for el in tree.getroot().iter(tag):
            mesh = el.find("geometry/mesh")
            if mesh is None:
                continue
            src = (urdf.parent / mesh.get("filename")).resolve()
            mesh.set("filename", str(decompose(src) if tag == "collision" else src))
    text = ET.tostring(tree.getroot(), encoding="unicode")
    out = cache_dir() / "urdf" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.urdf"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text)
    return out


# ------------------------------------------------------------------------------ precomputing the cache
def collision_meshes(urdf: Path) -> list[Path]:
    """The distinct mesh files a URDF's collision elements use."""
    urdf = Path(urdf).resolve()
    return sorted({(urdf.parent / el.find("geometry/mesh").get("filename")).resolve()
                   for el in ET.parse(urdf).getroot().iter("collision") if el.find("geometry/mesh") is not None})


@dataclass
class DecomposeConfig:
    partnet_dir: str = option("data/partnet-mobility", "a PartNet-Mobility directory (one folder per object id)")
    objects: str = option("all", "comma-separated object ids, or 'all' (those of the benchmark's categories)")
    workers: int = option(2, "decomposition processes (>= 1)")


def _decompose_one(path: str) -> float:
    import time

    t0 = time.perf_counter()
    decompose(Path(path))
    return time.perf_counter() - t0


def main(argv=None) -> int:
    """Decompose every collision mesh of a PartNet-Mobility directory with CoACD ahead of time, so that
    `partnet_collision=coacd` loads from the cache from the first episode on:

        python -m sim_envs.partnet --partnet-dir /data/partnet-mobility --workers 8

    Resumable: meshes already in the cache ($ROBOMAMBA_BENCH_CACHE, default ~/.cache/robomamba-bench)
    are skipped."""
    import inspect
    from multiprocessing import get_context

    from infra.cli import check_at_least, die, done, parse_config
    from infra.progress import progress_bar

    cfg, _ = parse_config(DecomposeConfig, argv, "python -m sim_envs.partnet", inspect.cleandoc(main.__doc__))
    check_at_least(cfg, workers=1)
    try:
        entries = scan(cfg.partnet_dir)
    except FileNotFoundError as e:
        die(str(e))
    run_record(cfg.partnet_dir)  # one line per skipped folder
    ids = sorted(entries) if cfg.objects == "all" else [i.strip() for i in cfg.objects.split(",")]
    unknown = [i for i in ids if i not in entries]
    if unknown:
        die(f"--objects {','.join(unknown)}: not in {cfg.partnet_dir}; allowed: {', '.join(sorted(entries)[:20])} ...")
    meshes = sorted({str(m) for i in ids for m in collision_meshes(entries[i].urdf)})
    with get_context("spawn").Pool(cfg.workers) as pool:
        seconds = list(progress_bar(pool.imap_unordered(_decompose_one, meshes), total=len(meshes), unit="mesh",
                            desc="decomposing"))
    return done(f"{len(meshes)} collision meshes of {len(ids)} objects in the cache {cache_dir()} "
                f"({sum(seconds):.0f} s of decomposition)")


if __name__ == "__main__":
    raise SystemExit(main())
