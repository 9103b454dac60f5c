"""A small vocabulary of parts shared by the category generators.

All functions return `Shape`s in the object frame (front faces -x, z up). Sizes are in the
generator's own units before normalisation.
"""
from __future__ import annotations

import numpy as np

from ..geometry import axis_frame_quat, quat_wxyz
from .spec import Joint, LinkSpec, Shape

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
    return Shape("box", tuple(map(float, (lo + hi) / 2)), tuple(map(float, np.abs(hi - lo) / 2)),
                 tuple(color))


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


def rotated_box(center, half, R, color) -> Shape:
    """A box with half extents `half` in its own frame, rotated by the 3x3 matrix R."""
    q = quat_wxyz(np.asarray(R, float))
    return Shape("box", tuple(map(float, center)), tuple(map(float, half)), tuple(color),
                 tuple(map(float, q)))


def rod(p0, p1, radius, color) -> Shape:
    """A cylinder of `radius` from point p0 to point p1 (any direction)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    q = axis_frame_quat(d) if np.linalg.norm(d) > 0 else quat_wxyz(np.eye(3))
    return Shape("cylinder", tuple(map(float, (p0 + p1) / 2)), (float(radius), float(np.linalg.norm(d) / 2)),
                 tuple(color), tuple(map(float, q)))


def disk(center, radius, thickness, color, axis=(0, 0, 1)) -> Shape:
    """A flat cylinder (coin) centred at `center`, its faces normal to `axis`."""
    c, a = np.asarray(center, float), _unit(axis)
    return rod(c - a * thickness / 2, c + a * thickness / 2, radius, color)


def ball(center, radius, color) -> Shape:
    """A sphere (domes, knobs: their surface faces every way, so pulls on them lift)."""
    return Shape("sphere", tuple(map(float, center)), (float(radius),), tuple(color))


def frame_ring(center, size_y, size_x, bar, height, color) -> list[Shape]:
    """A flat rectangular ring (four bars) lying in a horizontal plane, e.g. a toilet seat."""
    cx, cy, cz = center
    hx, hy, h = size_x / 2, size_y / 2, height / 2
    return [
        box((cx - hx, cy - hy, cz - h), (cx - hx + bar, cy + hy, cz + h), color),
        box((cx + hx - bar, cy - hy, cz - h), (cx + hx, cy + hy, cz + h), color),
        box((cx - hx, cy - hy, cz - h), (cx + hx, cy - hy + bar, cz + h), color),
        box((cx - hx, cy + hy - bar, cz - h), (cx + hx, cy + hy, cz + h), color),
    ]


def pick(rng: np.random.Generator, options):
    """One element of a list or dict's keys, as a plain Python value."""
    keys = list(options)
    return keys[int(rng.integers(len(keys)))]


def color(rng: np.random.Generator, names=None):
    """A palette colour, optionally restricted to some names."""
    table = {**PALETTES, **METALS}
    return table[pick(rng, names or list(PALETTES))]


# --- fronts: doors and drawers on a face that looks toward -x ----------------------------------

# Axis of a door hinged on each edge of a front face, signed so that positive q swings the free
# edge out toward -x (the viewer): the right-hand rule about the axis moves the door's points at
# the hinge's far side toward -x.
_DOOR_AXES = {"left": (0, 0, 1), "right": (0, 0, -1), "bottom": (0, -1, 0), "top": (0, 1, 0)}


def handle(anchor, vertical, size, style, color, standoff=0.03, thickness=0.014) -> list[Shape]:
    """A bar, a knob or nothing on a front face at `anchor` (a point on that face)."""
    if style == "bar":
        return bar_handle(anchor, length=min(0.6 * size, 0.25), vertical=vertical,
                          standoff=standoff, thickness=thickness, color=color)
    if style == "knob":
        return knob(anchor, radius=thickness, length=2 * thickness + 0.002, color=color)
    return []


def door(name, front_x, y0, y1, z0, z1, hinge_side, max_angle, color, handle_style="bar",
         handle_color=METALS["steel"], thickness=0.018, extra=(), parent="base",
         semantic="door") -> LinkSpec:
    """A flat door occupying [y0, y1] x [z0, z1] in front of the plane x = front_x, hinged on the
    `hinge_side` edge ('left' = -y, 'right' = +y, 'bottom', 'top'), with a handle near the free edge.
    `extra` shapes (windows, dials) ride on the door."""
    fx = front_x
    shapes = [box((fx - thickness, y0, z0), (fx, y1, z1), color), *extra]
    ym, zm, w, h = (y0 + y1) / 2, (z0 + z1) / 2, y1 - y0, z1 - z0
    if hinge_side in ("left", "right"):
        free_y = y1 - 0.08 * w if hinge_side == "left" else y0 + 0.08 * w
        hz = zm if h < 0.5 else z0 + 0.6 * h
        shapes += handle((fx - thickness, free_y, hz), True, h, handle_style, handle_color)
        origin = (fx - thickness, y0 if hinge_side == "left" else y1, zm)
    else:
        free_z = z1 - 0.1 * h if hinge_side == "bottom" else z0 + 0.1 * h
        shapes += handle((fx - thickness, ym, free_z), False, w, handle_style, handle_color)
        origin = (fx - thickness, ym, z0 if hinge_side == "bottom" else z1)
    joint = hinge(origin, _DOOR_AXES[hinge_side], max_angle)
    return LinkSpec(name, tuple(shapes), parent=parent, joint=joint, semantic=semantic)


def drawer(name, front_x, y0, y1, z0, z1, depth, travel, color, handle_style="bar",
           handle_color=METALS["steel"], thickness=0.018, parent="base") -> LinkSpec:
    """A drawer whose front panel covers [y0, y1] x [z0, z1] just in front of x = front_x and whose
    open box reaches `depth` behind it; it slides out toward -x by up to `travel`."""
    fx, wall, gap = front_x, 0.012, 0.004
    top = z0 + 0.75 * (z1 - z0)
    shapes = [
        box((fx - thickness, y0, z0), (fx, y1, z1), color),  # front panel
        box((fx, y0 + gap, z0), (fx + depth, y1 - gap, z0 + wall), color),  # bottom
        box((fx, y0 + gap, z0), (fx + depth, y0 + gap + wall, top), color),  # sides
        box((fx, y1 - gap - wall, z0), (fx + depth, y1 - gap, top), color),
        box((fx + depth - wall, y0 + gap, z0), (fx + depth, y1 - gap, top), color),  # back
    ]
    hz = z0 + (z1 - z0) * (0.5 if z1 - z0 < 0.3 else 0.75)
    shapes += handle((fx - thickness, (y0 + y1) / 2, hz), False, y1 - y0, handle_style, handle_color)
    joint = slider(origin=(fx, (y0 + y1) / 2, (z0 + z1) / 2), direction=(-1, 0, 0), travel=travel)
    return LinkSpec(name, tuple(shapes), parent=parent, joint=joint, semantic="drawer")


def lid(name, shapes, hinge_x, hinge_z, max_angle, parent="base", semantic="lid",
        hinge_at="back", y=0.0) -> LinkSpec:
    """A lid lying on top, hinged along y at its back edge (x = hinge_x): positive q lifts its front.
    With hinge_at='front' the hinge is on the viewer's side and positive q lifts the back."""
    axis = (0, 1, 0) if hinge_at == "back" else (0, -1, 0)
    return LinkSpec(name, tuple(shapes), parent=parent,
                    joint=hinge((hinge_x, y, hinge_z), axis, max_angle), semantic=semantic)


def lift(name, shapes, origin, travel, parent="base", semantic="lid") -> LinkSpec:
    """A part that lifts straight up (lift-off lid, cap, pump head, handset) by up to `travel`."""
    return LinkSpec(name, tuple(shapes), parent=parent, joint=slider(origin, (0, 0, 1), travel),
                    semantic=semantic)
