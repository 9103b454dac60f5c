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

from .categories import SEEN, UnknownCategoryError, resolve

TEST_FRACTION_MOD = 5  # seen categories: ids with crc32(id) % 5 == 0 are test (80/20)


@dataclass(frozen=True)
class PartNetEntry:
    object_id: str
    category: str
    urdf: Path
    joint_types: tuple[str, ...]  # types of the URDF's movable joints with finite limits


def _urdf_joint_types(urdf: Path) -> tuple[str, ...]:
    types = []
    for j in ET.parse(urdf).getroot().iter("joint"):
        jt = j.get("type")
        if jt in ("prismatic", "revolute"):
            lim = j.find("limit")
            if lim is not None and float(lim.get("upper", 0)) > float(lim.get("lower", 0)):
                types.append(jt)
    return tuple(types)


@lru_cache(maxsize=8)
def scan(root: str) -> dict[str, PartNetEntry]:
    """Index a PartNet-Mobility directory: object id -> entry. Skips folders it cannot use."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"PartNet-Mobility directory {root!r} does not exist")
    entries = {}
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        urdf, meta = d / "mobility.urdf", d / "meta.json"
        if not (urdf.exists() and meta.exists()):
            continue
        try:
            cat = resolve(json.loads(meta.read_text())["model_cat"]).category
        except (KeyError, json.JSONDecodeError, UnknownCategoryError) as e:
            print(f"partnet: skipping {d.name}: {e}", file=sys.stderr)
            continue
        entries[d.name] = PartNetEntry(d.name, cat, urdf, _urdf_joint_types(urdf))
    if not entries:
        raise FileNotFoundError(f"no object folders with mobility.urdf + meta.json under {root!r}")
    return entries


def split_of(object_id: str, category: str) -> str:
    if category not in SEEN:
        return "test"
    return "test" if zlib.crc32(object_id.encode()) % TEST_FRACTION_MOD == 0 else "train"


def instances(root: str, category: str, split: str, joint_type: str | None = None) -> tuple[str, ...]:
    return tuple(e.object_id for e in scan(root).values()
                 if e.category == category and split_of(e.object_id, category) == split
                 and (joint_type is None or joint_type in e.joint_types))


_NORM_CACHE: dict[str, tuple[float, np.ndarray]] = {}


def _load_raw(scene, urdf: Path, scale: float):
    loader = scene.create_urdf_loader()
    loader.fix_root_link = True
    loader.scale = scale
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


def load(scene, entry: PartNetEntry, scale: float):
    """Load `entry` into `scene`, normalised to diagonal 1 then scaled; returns the articulation."""
    import sapien

    key = str(entry.urdf)
    if key not in _NORM_CACHE:
        probe = _load_raw(scene, entry.urdf, 1.0)
        lo, hi = _aabb(probe)
        scene.remove_articulation(probe)
        _NORM_CACHE[key] = (float(np.linalg.norm(hi - lo)), (lo + hi) / 2)
    diag, centre = _NORM_CACHE[key]
    s = scale / diag
    art = _load_raw(scene, entry.urdf, s)
    art.set_root_pose(sapien.Pose(list(-centre * s)))
    art.set_name(f"partnet/{entry.object_id}")
    return art
