"""Write procedural objects in PartNet-Mobility's layout: `<dir>/<id>/mobility.urdf`, `meta.json` and
`semantics.txt`, so they open in other simulators and load back through `sim_envs.partnet`.

    python -m sim_envs.objects.export --categories all --instances 2 --out out/exported

`--format primitive` (default) keeps the geometry primitive (URDF box / cylinder / sphere), so no mesh
files are needed. `--format mesh` writes each link the way PartNet-Mobility stores it: a few OBJ pieces
under `textured_objs/` (each the union of several of the link's shapes, so concave, with cavities: a
drawer's tray, a cabinet's shell), each used as both visual and collision mesh, with a `.mtl` for its
colour. Link frames sit on their joint axis with the object frame's orientation; the object is
already normalised (diagonal 1, centred), so the loader's own normalisation leaves it as it is.
`semantics.txt` uses PartNet-Mobility's words (hinge, slider, heavy, static) and the part's label.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.cli import check_at_least, done, option, parse_config
from infra.files import atomic_write_text, json_default

from ..cli import categories_option, check_split, split_option
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


MESH_PIECES = 3  # most OBJ pieces per link in mesh mode (PartNet-Mobility links have several)
CYLINDER_SEGMENTS = 24


def shape_mesh(sh: Shape) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3) in the object frame, triangles (M, 3)) of one primitive shape, outward faces."""
    if sh.kind == "box":
        h = np.asarray(sh.size, dtype=float)
        v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * h
        f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    elif sh.kind == "cylinder":  # axis x
        r, hl = sh.size
        a = np.linspace(0, 2 * np.pi, CYLINDER_SEGMENTS, endpoint=False)
        ring = np.stack([np.cos(a) * r, np.sin(a) * r], 1)
        v = np.concatenate([np.c_[np.full(len(a), -hl), ring], np.c_[np.full(len(a), hl), ring],
                            [[-hl, 0, 0], [hl, 0, 0]]])
        n, c0, c1 = len(a), 2 * len(a), 2 * len(a) + 1
        f = []
        for i in range(n):
            j = (i + 1) % n
            f += [[i, j, n + j], [i, n + j, n + i], [c0, j, i], [c1, n + i, n + j]]
        f = np.array(f)
    elif sh.kind == "sphere":
        import trimesh

        m = trimesh.creation.icosphere(subdivisions=1, radius=sh.size[0])
        v, f = np.asarray(m.vertices), np.asarray(m.faces)
    else:
        raise ValueError(f"cannot export shape kind {sh.kind!r}")
    return v @ _quat_to_matrix(sh.quat).T + np.asarray(sh.pos), f


def write_pieces(spec: ObjectSpec, folder: Path, frames: dict) -> dict[str, list[str]]:
    """Write every link's OBJ pieces (and their .mtl) under `folder/textured_objs`; link name ->
    piece file names relative to `folder`."""
    out: dict[str, list[str]] = {}
    (folder / "textured_objs").mkdir(parents=True, exist_ok=True)
    for link in spec.links:
        out[link.name] = []
        n = max(1, min(MESH_PIECES, len(link.shapes) // 2))  # two shapes or more per piece
        groups = [g for g in np.array_split(np.arange(len(link.shapes)), n) if len(g)]
        for k, group in enumerate(groups):
            stem = f"textured_objs/{link.name}-{k}"
            verts, faces, base = [], [], 0
            for i in group:
                v, f = shape_mesh(link.shapes[i])
                verts.append(v - frames[link.name])
                faces.append(f + base)
                base += len(v)
            colour = link.shapes[group[0]].color
            mtl = f"newmtl m\nKd {colour[0]:.4f} {colour[1]:.4f} {colour[2]:.4f}\nd {colour[3]:.4f}\n"
            atomic_write_text(folder / f"{stem}.mtl", mtl)
            lines = [f"mtllib {link.name}-{k}.mtl", "usemtl m"]
            lines += [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in np.concatenate(verts)]
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.concatenate(faces)]
            atomic_write_text(folder / f"{stem}.obj", "\n".join(lines) + "\n")
            out[link.name].append(f"{stem}.obj")
    return out


def link_frames(spec: ObjectSpec) -> dict[str, np.ndarray]:
    """Each link's URDF frame origin (object frame): on its joint axis, or its parent's."""
    frames: dict[str, np.ndarray] = {}
    for link in spec.links:
        if link.joint is not None:
            frames[link.name] = np.asarray(link.joint.origin, float)
        else:
            frames[link.name] = frames[link.parent] if link.parent else np.zeros(3)
    return frames


def to_urdf(spec: ObjectSpec, pieces: dict[str, list[str]] | None = None) -> str:
    """The URDF of `spec`: primitive geometry, or the OBJ `pieces` of each link (write_pieces)."""
    robot = ET.Element("robot", name=folder_name(spec))
    frames = link_frames(spec)
    colors: dict[tuple, str] = {}
    for link in spec.links:
        el = ET.SubElement(robot, "link", name=link.name)
        for k, piece in enumerate((pieces or {}).get(link.name, [])):
            for tag in ("visual", "collision"):
                node = ET.SubElement(el, tag, name=f"{link.name}_{k}")
                ET.SubElement(node, "origin", xyz="0 0 0", rpy="0 0 0")
                ET.SubElement(ET.SubElement(node, "geometry"), "mesh", filename=piece)
        for k, sh in enumerate(link.shapes if pieces is None else ()):
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


SEMANTIC_KIND = {"revolute": "hinge", "prismatic": "slider"}  # PartNet-Mobility's joint words


def export(spec: ObjectSpec, root, mesh: bool = False) -> Path:
    """Write `spec` under `root/<Category>_<id>/` (`mesh`: as OBJ pieces); returns that folder.
    Files are written atomically."""
    out = Path(root) / folder_name(spec)
    out.mkdir(parents=True, exist_ok=True)
    pieces = write_pieces(spec, out, link_frames(spec)) if mesh else None
    atomic_write_text(out / "mobility.urdf", to_urdf(spec, pieces))
    meta = {"model_cat": spec.category, "model_id": folder_name(spec), "source": "sim_envs procedural generator",
            "instance_id": spec.instance_id, "params": spec.params}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1, default=json_default) + "\n")
    sem = [f"{link.name} {SEMANTIC_KIND[link.joint.type] if link.joint else ('static' if link.parent else 'heavy')} "
           f"{link.semantic or 'part'}" for link in spec.links]
    atomic_write_text(out / "semantics.txt", "\n".join(sem) + "\n")
    return out


@dataclass
class ExportConfig:
    categories: str = categories_option()
    split: str = split_option("test")
    instances: int = option(1, "instances per category (the split's first N, >= 1)")
    out: str = option("out/exported", "output directory (one folder per object)")
    format: str = option("primitive", "'primitive' (URDF boxes, cylinders, spheres) or 'mesh' (OBJ pieces per link "
                                      "under textured_objs/, as PartNet-Mobility stores objects)",
                         choices=("primitive", "mesh"))

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
            export(generate(task.category, i), cfg.out, mesh=cfg.format == "mesh")
            n += 1
    return done(f"wrote {n} objects under {cfg.out}")


if __name__ == "__main__":
    raise SystemExit(main())
