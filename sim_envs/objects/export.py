"""Write procedural objects in PartNet-Mobility's layout: `<dir>/<id>/mobility.urdf`, `meta.json` and
`semantics.txt`, so they open in other simulators and load back through `sim_envs.partnet`.

    python -m sim_envs.objects.export --categories all --instances 2 --out out/exported

Geometry stays primitive (URDF box / cylinder / sphere), so no mesh files are needed. Link frames sit
on their joint axis with the object frame's orientation; the object is already normalised (diagonal
1, centred), so the loader's own normalisation leaves it as it is.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.cli import check_at_least, done, option, parse_config
from ..cli import categories_option, check_split, split_option
from infra.files import atomic_write_text, json_default

from .spec import ObjectSpec, Shape, _quat_to_matrix

# URDF cylinders run along z; ours run along x: rotate z onto x
_Z_TO_X = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


def folder_name(spec: ObjectSpec) -> str:
    return f"{spec.category}_{spec.instance_id}"


def _fmt(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in v)


def _rpy(R: np.ndarray) -> np.ndarray:
    """URDF rpy (fixed-axis roll x, pitch y, yaw z: R = Rz Ry Rx) of a rotation matrix."""
    pitch = np.arcsin(-np.clip(R[2, 0], -1.0, 1.0))
    if abs(np.cos(pitch)) > 1e-9:
        roll = np.arctan2(R[2, 1], R[2, 2])
        yaw = np.arctan2(R[1, 0], R[0, 0])
    else:  # gimbal lock: fold yaw into roll
        roll, yaw = np.arctan2(-R[1, 2], R[1, 1]), 0.0
    return np.array([roll, pitch, yaw])


def _geometry(parent: ET.Element, sh: Shape, frame_origin: np.ndarray) -> None:
    R = _quat_to_matrix(sh.quat)
    geom = ET.Element("geometry")
    if sh.kind == "box":
        ET.SubElement(geom, "box", size=_fmt(2 * np.asarray(sh.size)))
    elif sh.kind == "cylinder":
        R = R @ _Z_TO_X
        ET.SubElement(geom, "cylinder", radius=f"{sh.size[0]:.9g}", length=f"{2 * sh.size[1]:.9g}")
    elif sh.kind == "sphere":
        ET.SubElement(geom, "sphere", radius=f"{sh.size[0]:.9g}")
    else:
        raise ValueError(f"cannot export shape kind {sh.kind!r}")
    ET.SubElement(parent, "origin", xyz=_fmt(np.asarray(sh.pos) - frame_origin), rpy=_fmt(_rpy(R)))
    parent.append(geom)


def to_urdf(spec: ObjectSpec) -> str:
    robot = ET.Element("robot", name=folder_name(spec))
    frames: dict[str, np.ndarray] = {}
    colors: dict[tuple, str] = {}
    for link in spec.links:
        if link.joint is not None:
            frames[link.name] = np.asarray(link.joint.origin, float)
        else:
            frames[link.name] = frames[link.parent] if link.parent else np.zeros(3)
        el = ET.SubElement(robot, "link", name=link.name)
        for k, sh in enumerate(link.shapes):
            key = tuple(round(c, 4) for c in sh.color)
            if key not in colors:
                colors[key] = f"color_{len(colors)}"
                mat = ET.SubElement(robot, "material", name=colors[key])
                ET.SubElement(mat, "color", rgba=_fmt(key))
            vis = ET.SubElement(el, "visual", name=f"{link.name}_{k}")
            _geometry(vis, sh, frames[link.name])
            ET.SubElement(vis, "material", name=colors[key])
            col = ET.SubElement(el, "collision", name=f"{link.name}_{k}")
            _geometry(col, sh, frames[link.name])
        if link.parent is None:
            continue
        j = link.joint
        jel = ET.SubElement(robot, "joint", name=f"joint_{link.name}", type=j.type if j else "fixed")
        ET.SubElement(jel, "parent", link=link.parent)
        ET.SubElement(jel, "child", link=link.name)
        ET.SubElement(jel, "origin", xyz=_fmt(frames[link.name] - frames[link.parent]), rpy="0 0 0")
        if j is not None:
            ET.SubElement(jel, "axis", xyz=_fmt(j.axis))
            ET.SubElement(jel, "limit", lower=f"{j.limits[0]:.9g}", upper=f"{j.limits[1]:.9g}",
                          effort="100", velocity="1")
    ET.indent(robot)
    return ET.tostring(robot, encoding="unicode") + "\n"


def export(spec: ObjectSpec, root) -> Path:
    """Write `spec` under `root/<Category>_<id>/`; returns that folder. Files are written atomically."""
    out = Path(root) / folder_name(spec)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "mobility.urdf", to_urdf(spec))
    meta = {"model_cat": spec.category, "model_id": folder_name(spec), "source": "sim_envs procedural generator",
            "instance_id": spec.instance_id, "params": spec.params}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1, default=json_default) + "\n")
    sem = [f"{l.name} {l.joint.type if l.joint else ('fixed' if l.parent else 'free')} {l.semantic or 'part'}"
           for l in spec.links]
    atomic_write_text(out / "semantics.txt", "\n".join(sem) + "\n")
    return out


@dataclass
class ExportConfig:
    categories: str = categories_option()
    split: str = split_option("test")
    instances: int = option(1, "instances per category (the split's first N, >= 1)")
    out: str = option("out/exported", "output directory (one folder per object)")

    def __post_init__(self):
        check_at_least(self, instances=1)
        check_split(self)


def main(argv=None) -> int:
    cfg, _ = parse_config(ExportConfig, argv, "python -m sim_envs.objects.export", __doc__)
    from ..categories import UNSEEN
    from ..cli import resolve_or_die
    from . import generate, instances

    tasks = resolve_or_die(cfg.categories, many=True)
    n = 0
    for task in tasks:
        if cfg.split == "train" and task.category in UNSEEN:
            continue
        for i in instances(task.category, cfg.split, task.joint_type)[: cfg.instances]:
            export(generate(task.category, i), cfg.out)
            n += 1
    return done(f"wrote {n} objects under {cfg.out}")


if __name__ == "__main__":
    raise SystemExit(main())
