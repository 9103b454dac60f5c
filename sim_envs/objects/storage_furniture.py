"""StorageFurniture: cabinets with drawers (prismatic) and hinged doors (revolute).

A carcass (box shell open at the front, with shelves and dividers) split into a grid of columns and
rows. Each cell is a drawer, a door (single, or a double door on wide cells), or an open shelf; a
column may instead be one tall door. Handles are bars, knobs or absent. At least one movable part.
"""
from __future__ import annotations

import numpy as np

from . import parts
from .spec import LinkSpec, ObjectSpec

CATEGORY = "StorageFurniture"
T = 0.018  # panel thickness
GAP = 0.004  # clearance around fronts


def generate(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    W = rng.uniform(0.4, 1.4)
    H = rng.uniform(0.3, 1.8)
    # deep enough that drawers can travel a useful fraction of the normalised size (>= ~0.2)
    D = max(rng.uniform(0.35, 0.7), 0.3 * float(np.hypot(W, H)))
    body_color = parts.PALETTES[rng.choice(["wood", "light_wood", "white", "grey", "dark", "blue"])]
    front_color = body_color if rng.random() < 0.6 else parts.PALETTES[rng.choice(list(parts.PALETTES))]
    handle_style = rng.choice(["bar", "knob", "none"], p=[0.55, 0.25, 0.2])
    handle_color = parts.METALS[rng.choice(list(parts.METALS))]

    n_cols = int(rng.integers(1, 1 + max(1, min(3, int(W / 0.35)))))
    col_w = (W - T * (n_cols + 1)) / n_cols
    shapes = parts.box_shell(D, W, H, T, body_color)
    front_x = -D / 2
    cells = []  # (y0, y1, z0, z1, kind)
    for c in range(n_cols):
        y0 = -W / 2 + T + c * (col_w + T)
        y1 = y0 + col_w
        if c > 0:  # vertical divider left of this column
            shapes.append(parts.box((front_x, y0 - T, -H / 2 + T), (D / 2 - T, y0, H / 2 - T), body_color))
        if rng.random() < 0.25 and H > 0.5:
            cells.append((y0, y1, -H / 2 + T, H / 2 - T, "tall_door"))
            continue
        n_rows = int(rng.integers(1, 1 + max(1, min(4, int(H / 0.22)))))
        row_h = (H - T * (n_rows + 1)) / n_rows
        for r in range(n_rows):
            z0 = -H / 2 + T + r * (row_h + T)
            z1 = z0 + row_h
            if r > 0:  # shelf below this row
                shapes.append(parts.box((front_x, y0, z0 - T), (D / 2 - T, y1, z0), body_color))
            kind = rng.choice(["drawer", "door", "open"], p=[0.55, 0.35, 0.10])
            cells.append((y0, y1, z0, z1, str(kind)))
    if not any(k != "open" for *_, k in cells):
        y0, y1, z0, z1, _ = cells[int(rng.integers(len(cells)))]
        cells[cells.index((y0, y1, z0, z1, "open"))] = (y0, y1, z0, z1, "drawer")

    links = [LinkSpec("base", tuple(shapes), semantic="body")]
    for y0, y1, z0, z1, kind in cells:
        if kind == "drawer":
            links.append(_drawer(len(links), y0, y1, z0, z1, D, front_color, handle_style, handle_color, rng))
        elif kind in ("door", "tall_door"):
            wide = (y1 - y0) > 0.9 * (z1 - z0) and (y1 - y0) > 0.3
            if wide and rng.random() < 0.7:
                ym = (y0 + y1) / 2
                links.append(_door(len(links), y0, ym, z0, z1, D, "left", front_color, handle_style, handle_color, rng))
                links.append(_door(len(links), ym, y1, z0, z1, D, "right", front_color, handle_style,
                                   handle_color, rng))
            else:
                side = "left" if rng.random() < 0.5 else "right"
                links.append(_door(len(links), y0, y1, z0, z1, D, side, front_color, handle_style, handle_color, rng))
    params = dict(width=W, height=H, depth=D, columns=n_cols, handle=str(handle_style),
                  cells=[k for *_, k in cells])
    return ObjectSpec(CATEGORY, instance_id, tuple(links), params)


def _drawer(idx, y0, y1, z0, z1, D, color, style, hcolor, rng) -> LinkSpec:
    depth = 0.9 * (D - 2 * T)
    travel = rng.uniform(0.75, 0.9) * depth
    return parts.drawer(f"drawer_{idx}", -D / 2, y0 + GAP, y1 - GAP, z0 + GAP, z1 - GAP, depth,
                        travel, color, style, hcolor, thickness=T)


def _door(idx, y0, y1, z0, z1, D, hinge_side, color, style, hcolor, rng) -> LinkSpec:
    return parts.door(f"door_{idx}", -D / 2, y0 + GAP, y1 - GAP, z0 + GAP, z1 - GAP, hinge_side,
                      rng.uniform(1.5, 2.2), color, style, hcolor, thickness=T)
