"""Furniture and fixtures besides cabinets: Door, FoldingChair, Toilet, Table.

Front faces -x, z up, floor at z = 0, metres before normalisation.
"""
from __future__ import annotations

import numpy as np

from . import parts
from .parts import METALS, box, pick, rod
from .spec import LinkSpec, ObjectSpec

GAP = 0.004


def door(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A frame (posts, lintel) holding one or two hinged door slabs that open toward the viewer,
    with lever or knob handles and optional glass panes or raised panels."""
    double = rng.random() < 0.3
    W = rng.uniform(1.2, 1.8) if double else rng.uniform(0.7, 1.0)
    H = rng.uniform(1.9, 2.3)
    fd, fw = rng.uniform(0.08, 0.16), rng.uniform(0.05, 0.1)  # frame depth, post width
    frame_c = parts.color(rng, ["white", "wood", "light_wood", "dark", "grey"])
    slab_c = (frame_c if rng.random() < 0.5
              else parts.color(rng, ["white", "wood", "light_wood", "blue", "green", "red"]))
    metal = METALS[pick(rng, METALS)]
    frame = [box((-fd / 2, -W / 2 - fw, 0), (fd / 2, -W / 2, H + fw), frame_c),
             box((-fd / 2, W / 2, 0), (fd / 2, W / 2 + fw, H + fw), frame_c),
             box((-fd / 2, -W / 2, H), (fd / 2, W / 2, H + fw), frame_c)]
    t = rng.uniform(0.035, 0.05)
    deco = pick(rng, ["plain", "glass", "panels"])
    style = pick(rng, ["bar", "knob", "lever"])
    links = [LinkSpec("base", tuple(frame), semantic="frame")]
    spans = [(-W / 2 + GAP, -GAP, "left"), (GAP, W / 2 - GAP, "right")] if double else \
        [(-W / 2 + GAP, W / 2 - GAP, pick(rng, ["left", "right"]))]
    fx = -fd / 2 + t  # slabs sit flush with the frame's front
    for k, (y0, y1, side) in enumerate(spans):
        extra = []
        if deco == "glass":
            extra.append(box((fx - t - 0.004, y0 + 0.2 * (y1 - y0), 0.55 * H),
                             (fx - t, y1 - 0.2 * (y1 - y0), 0.9 * H), (0.55, 0.7, 0.8, 1.0)))
        elif deco == "panels":
            for za, zb in ((0.1 * H, 0.45 * H), (0.55 * H, 0.9 * H)):
                extra.append(box((fx - t - 0.008, y0 + 0.15 * (y1 - y0), za),
                                 (fx - t, y1 - 0.15 * (y1 - y0), zb), slab_c))
        free_y = y1 - 0.1 * (y1 - y0) if side == "left" else y0 + 0.1 * (y1 - y0)
        if style == "lever":
            d = 1 if side == "right" else -1  # the lever points from the free edge toward the hinge
            extra += [rod((fx - t, free_y, 0.48 * H), (fx - t - 0.05, free_y, 0.48 * H), 0.01, metal),
                      box((fx - t - 0.06, free_y - 0.01 + min(0, d * 0.12), 0.48 * H - 0.008),
                          (fx - t - 0.045, free_y + 0.01 + max(0, d * 0.12), 0.48 * H + 0.008), metal)]
            hstyle = "none"
        else:
            hstyle = style
        links.append(parts.door(f"door_{k}", fx, y0, y1, GAP, H - GAP, side, rng.uniform(1.3, 1.9), slab_c,
                                hstyle, metal, thickness=t, extra=tuple(extra)))
    return ObjectSpec("Door", instance_id, tuple(links),
                      dict(width=W, height=H, double=double, deco=deco, handle=style))


def folding_chair(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """Tubular legs, a fixed backrest, and a seat that folds up about a hinge at its back."""
    W, D = rng.uniform(0.4, 0.5), rng.uniform(0.38, 0.48)
    hs, hb = rng.uniform(0.42, 0.48), rng.uniform(0.35, 0.45)
    tube = rng.uniform(0.01, 0.016)
    metal = METALS[pick(rng, ["steel", "black"])] if rng.random() < 0.7 else parts.color(rng, ["dark", "grey", "white"])
    seat_c = parts.color(rng, ["wood", "light_wood", "dark", "grey", "blue", "red", "green"])
    back_x = D / 2
    frame = []
    for s in (-1, 1):
        y = s * (W / 2 + tube)
        frame += [rod((-D / 2, y, 0), (back_x, y, hs + hb), tube, metal),  # front leg rising to the back post
                  rod((back_x + 0.06, y, 0), (0.0, y, hs), tube, metal),  # rear leg crossing under the seat
                  rod((back_x, y, hs), (back_x, y, hs + hb), tube, metal)]
    frame += [rod((-D / 2, -W / 2 - tube, 0.12), (-D / 2, W / 2 + tube, 0.12), 0.8 * tube, metal),
              box((back_x - 0.012, -W / 2, hs + 0.5 * hb), (back_x + 0.012, W / 2, hs + hb - 0.02), seat_c)]
    seat = (box((-D / 2 + 0.02, -W / 2 + 0.01, hs), (back_x - 0.03, W / 2 - 0.01, hs + 0.02), seat_c),)
    links = (LinkSpec("base", tuple(frame), semantic="frame"),
             parts.lid("seat", seat, back_x - 0.03, hs, rng.uniform(1.3, 1.6), semantic="seat"))
    return ObjectSpec("FoldingChair", instance_id, links, dict(width=W, depth=D, seat_height=hs))


def toilet(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A bowl on a pedestal with a tank at the back; a seat ring hinged at the back and, riding on
    it, a slightly smaller lid on the same hinge line."""
    W, D = rng.uniform(0.34, 0.42), rng.uniform(0.45, 0.6)
    hb = rng.uniform(0.36, 0.44)
    c = parts.color(rng, ["white", "white", "white", "grey", "light_wood"])
    seat_c = c if rng.random() < 0.6 else parts.color(rng, ["white", "dark", "light_wood"])
    tank = rng.random() < 0.75
    tx = rng.uniform(0.15, 0.2)
    xb = D / 2 - (tx if tank else 0.06)  # back of the bowl / hinge line
    shapes = [box((-0.1, -0.12, 0), (xb - 0.02, 0.12, hb - 0.12), c),  # pedestal
              box((-D / 2, -W / 2, hb - 0.14), (xb, W / 2, hb), c)]  # bowl
    shapes.append(box((-D / 2 + 0.04, -W / 2 + 0.05, hb - 0.002), (xb - 0.05, W / 2 - 0.05, hb), (0.8, 0.85, 0.9, 1.0)))
    if tank:
        th = rng.uniform(0.3, 0.42)
        shapes += [box((xb, -W / 2 - 0.02, hb - 0.1), (D / 2, W / 2 + 0.02, hb + th), c),
                   box((xb - 0.002, W / 2 - 0.06, hb + th - 0.06), (xb, W / 2 - 0.03, hb + th - 0.04), METALS["steel"])]
    else:
        shapes.append(box((xb, -0.08, hb - 0.1), (D / 2, 0.08, hb + 0.04), c))
    z = hb + 0.002
    # the hinge line stands clear of the tank so that the seat and lid can swing up to vertical
    xh = xb - 0.05
    ring = parts.frame_ring(((-D / 2 + xh) / 2, 0, z + 0.0125), W, xh + D / 2, rng.uniform(0.06, 0.09), 0.025, seat_c)
    seat = parts.lid("seat", ring, xh, z, rng.uniform(1.3, 1.5), semantic="seat")
    frac = rng.uniform(0.8, 0.9)
    lid_shapes = (box((xh - frac * (xh + D / 2), -frac * W / 2, z + 0.027), (xh, frac * W / 2, z + 0.045), seat_c),)
    # the lid rides on the seat (lifting the seat lifts a closed lid with it)
    lid = parts.lid("lid", lid_shapes, xh, z + 0.027, rng.uniform(1.3, 1.5), parent="seat")
    return ObjectSpec("Toilet", instance_id, (LinkSpec("base", tuple(shapes), semantic="body"), seat, lid),
                      dict(width=W, depth=D, tank=tank))


def table(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A top on four legs (or two side panels) with an apron holding one to three drawers."""
    W, D, H = rng.uniform(0.8, 1.6), rng.uniform(0.5, 0.8), rng.uniform(0.65, 0.78)
    wood = parts.color(rng, ["wood", "light_wood", "white", "dark", "grey"])
    front = wood if rng.random() < 0.6 else parts.color(rng, ["white", "wood", "light_wood", "blue"])
    t = rng.uniform(0.025, 0.04)
    apron = rng.uniform(0.12, 0.18)
    legs = pick(rng, ["legs", "panels"])
    leg = rng.uniform(0.04, 0.06)
    shapes = [box((-D / 2, -W / 2, H - t), (D / 2, W / 2, H), wood)]
    za = H - t - apron
    if legs == "legs":
        for sx in (-1, 1):
            for sy in (-1, 1):
                x, y = sx * (D / 2 - leg), sy * (W / 2 - leg)
                shapes.append(box((x - leg / 2, y - leg / 2, 0), (x + leg / 2, y + leg / 2, H - t), wood))
    else:
        for sy in (-1, 1):
            y = sy * (W / 2 - 0.03)
            shapes.append(box((-D / 2 + 0.03, y - 0.015, 0), (D / 2 - 0.03, y + 0.015, H - t), wood))
    inner = W / 2 - (leg if legs == "legs" else 0.03) - 0.02
    fx = -D / 2 + leg
    shapes += [box((fx, -inner, za), (D / 2 - leg, -inner + 0.015, H - t), wood),
               box((fx, inner - 0.015, za), (D / 2 - leg, inner, H - t), wood),
               box((D / 2 - leg - 0.015, -inner, za), (D / 2 - leg, inner, H - t), wood),
               box((fx, -inner, za), (D / 2 - leg, inner, za + 0.012), wood)]  # drawer runners
    n = int(rng.integers(1, 4 if W > 1.0 else 3))
    cw = 2 * inner / n
    handle = pick(rng, ["bar", "knob", "none"])
    drawers = []
    for k in range(n):
        y0 = -inner + k * cw
        if k > 0:
            shapes.append(box((fx, y0 - 0.008, za), (D / 2 - leg - 0.015, y0 + 0.008, H - t), wood))
        depth = D - 2 * leg - 0.04
        drawers.append(parts.drawer(f"drawer_{k}", fx, y0 + 0.01, y0 + cw - 0.01, za + 0.014, H - t - GAP, depth,
                                  rng.uniform(0.7, 0.85) * depth, front, handle, METALS["steel"]))
    links = (LinkSpec("base", tuple(shapes), semantic="body"), *drawers)
    return ObjectSpec("Table", instance_id, links, dict(width=W, depth=D, height=H, drawers=n, legs=legs))
