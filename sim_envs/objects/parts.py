"""A small vocabulary of parts shared by the category generators.

All functions return `Shape`s in the object frame (front faces -x, z up). Sizes are in the
generator's own units before normalisation.
"""
from __future__ import annotations

import numpy as np

from .spec import Joint, Shape

PALETTES = {
    "wood": (0.55, 0.38, 0.22, 1.0),
    "light_wood": (0.78, 0.62, 0.42, 1.0),
    "white": (0.90, 0.90, 0.87, 1.0),
    "grey": (0.55, 0.57, 0.60, 1.0),
    "dark": (0.22, 0.24, 0.28, 1.0),
    "blue": (0.30, 0.42, 0.60, 1.0),
    "green": (0.38, 0.52, 0.40, 1.0),
    "red": (0.62, 0.25, 0.22, 1.0),
}
METALS = {
    "steel": (0.75, 0.75, 0.78, 1.0),
    "black": (0.08, 0.08, 0.08, 1.0),
    "brass": (0.72, 0.58, 0.28, 1.0),
}


def box(lo, hi, color) -> Shape:
    """Axis-aligned box between two corners."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return Shape("box", tuple((lo + hi) / 2), tuple(np.abs(hi - lo) / 2), tuple(color))


def box_shell(depth, width, height, t, color, open_side="front") -> list[Shape]:
    """A box centred at the origin with panels of thickness t and one open side (front = -x)."""
    d, w, h = depth / 2, width / 2, height / 2
    panels = {
        "back": box((d - t, -w, -h), (d, w, h), color),
        "front": box((-d, -w, -h), (-d + t, w, h), color),
        "left": box((-d, -w, -h), (d, -w + t, h), color),
        "right": box((-d, w - t, -h), (d, w, h), color),
        "bottom": box((-d, -w, -h), (d, w, -h + t), color),
        "top": box((-d, -w, h - t), (d, w, h), color),
    }
    return [s for side, s in panels.items() if side != open_side]


def bar_handle(center, length, vertical, standoff, thickness, color) -> list[Shape]:
    """A bar on two posts standing off the front face (-x) at `center` (a point on that face)."""
    c = np.asarray(center, float)
    half = length / 2
    along = np.array([0, 0, 1.0]) if vertical else np.array([0, 1.0, 0])
    r = thickness / 2
    bar_c = c + np.array([-standoff, 0, 0])
    bar = box(bar_c - along * half - r, bar_c + along * half + r, color)
    posts = []
    for sgn in (-1, 1):
        pc = c + along * sgn * (half - r)
        posts.append(box(pc + np.array([-standoff, -r * 0.8, -r * 0.8]),
                         pc + np.array([0.0, r * 0.8, r * 0.8]), color))
    return [bar, *posts]


def knob(center, radius, length, color) -> list[Shape]:
    """A round knob (cylinder along x) protruding from the front face at `center`."""
    c = np.asarray(center, float) + np.array([-length / 2, 0, 0])
    return [Shape("cylinder", tuple(c), (radius, length / 2), tuple(color))]


def slider(origin, direction, travel) -> Joint:
    """Prismatic joint: positive q moves along `direction` up to `travel`."""
    return Joint("prismatic", tuple(map(float, origin)), tuple(map(float, _unit(direction))),
                 (0.0, float(travel)))


def hinge(origin, axis, max_angle) -> Joint:
    """Revolute joint about `axis` through `origin`: positive q rotates right-handed about it."""
    return Joint("revolute", tuple(map(float, origin)), tuple(map(float, _unit(axis))),
                 (0.0, float(max_angle)))


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)
