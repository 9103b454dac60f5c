"""A plain description of a procedural articulated object: links made of primitive shapes, joints.

Every link's shapes are given in the *object frame* (x toward the back, so the object's front faces
-x; z up), with every joint at q = 0. This keeps the spec trivially scalable and exportable (URDF)
and makes every link frame coincide with the object frame at rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Shape:
    kind: str  # "box" (size = half extents xyz), "cylinder" (radius, half length; axis x), "sphere" (radius,)
    pos: tuple[float, float, float]
    size: tuple[float, ...]
    color: RGBA
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # wxyz, in the object frame

    def scaled(self, s: float) -> Shape:
        return replace(self, pos=tuple(s * v for v in self.pos), size=tuple(s * v for v in self.size))

    def corners(self) -> np.ndarray:
        """Eight corners of the shape's bounding box in the object frame (for extents)."""
        if self.kind == "box":
            h = np.asarray(self.size)
        elif self.kind == "sphere":
            h = np.full(3, self.size[0])
        else:
            r, hl = self.size
            h = np.array([hl, r, r])
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=float)
        R = _quat_to_matrix(self.quat)
        return (signs * h) @ R.T + np.asarray(self.pos)


@dataclass(frozen=True)
class Joint:
    type: str  # "prismatic" or "revolute" ("fixed" is a link without a joint)
    origin: tuple[float, float, float]  # a point on the axis, object frame at rest
    axis: tuple[float, float, float]  # unit axis; positive q opens the part
    limits: tuple[float, float]  # lower (closed) and upper (open), m or rad

    def scaled(self, s: float) -> Joint:
        lim = self.limits if self.type == "revolute" else tuple(s * v for v in self.limits)
        return replace(self, origin=tuple(s * v for v in self.origin), limits=lim)


@dataclass(frozen=True)
class LinkSpec:
    name: str
    shapes: tuple[Shape, ...]
    parent: str | None = None  # None: the root (fixed base)
    joint: Joint | None = None  # None with a parent: rigidly fixed to it
    semantic: str = ""  # "body", "drawer", "door", "lid", ... (metadata for people and exports)

    def scaled(self, s: float) -> LinkSpec:
        return replace(self, shapes=tuple(sh.scaled(s) for sh in self.shapes),
                       joint=None if self.joint is None else self.joint.scaled(s))


@dataclass(frozen=True)
class ObjectSpec:
    category: str
    instance_id: int
    links: tuple[LinkSpec, ...]
    params: dict = field(default_factory=dict, compare=False)  # the generator's sampled parameters

    @property
    def object_id(self) -> str:
        return f"{self.category}/{self.instance_id}"

    def movable(self) -> list[LinkSpec]:
        return [link for link in self.links if link.joint is not None]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        pts = np.concatenate([sh.corners() for link in self.links for sh in link.shapes])
        return pts.min(0), pts.max(0)

    def scaled(self, s: float) -> ObjectSpec:
        return replace(self, links=tuple(link.scaled(s) for link in self.links))

    def translated(self, t) -> ObjectSpec:
        t = np.asarray(t, dtype=float)

        def mv(p):
            return tuple(float(v) for v in np.asarray(p) + t)

        links = []
        for link in self.links:
            shapes = tuple(replace(sh, pos=mv(sh.pos)) for sh in link.shapes)
            joint = None if link.joint is None else replace(link.joint, origin=mv(link.joint.origin))
            links.append(replace(link, shapes=shapes, joint=joint))
        return replace(self, links=tuple(links))

    def normalized(self) -> ObjectSpec:
        """Centred on its bounding-box centre and scaled to a bounding-box diagonal of 1."""
        lo, hi = self.bounds()
        centred = self.translated(-(lo + hi) / 2)
        return centred.scaled(1.0 / float(np.linalg.norm(hi - lo)))

    def validate(self) -> None:
        names = [link.name for link in self.links]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.object_id}: duplicate link names")
        roots = [link for link in self.links if link.parent is None]
        if len(roots) != 1 or self.links[0].parent is not None:
            raise ValueError(f"{self.object_id}: exactly one root link, listed first")
        seen = set()
        for link in self.links:
            if link.parent is not None and link.parent not in seen:
                raise ValueError(f"{self.object_id}: link {link.name} listed before its parent {link.parent}")
            seen.add(link.name)
            if link.joint is not None:
                if link.joint.type not in ("prismatic", "revolute"):
                    raise ValueError(f"{self.object_id}: joint type {link.joint.type!r}")
                lo, hi = link.joint.limits
                if not lo < hi:
                    raise ValueError(f"{self.object_id}: joint of {link.name} has empty range")
        if not self.movable():
            raise ValueError(f"{self.object_id}: no movable part")


def _quat_to_matrix(q) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
