"""Boxy appliances with doors, drawers, lids and levers on their front: Safe, Refrigerator,
Microwave, WashingMachine, Toaster, Dispenser.

Every body is centred at the origin with its front facing -x; sizes are in metres before
normalisation. Movable parts are the ones a person pulls open; buttons and knobs are fixed.
"""
from __future__ import annotations

import numpy as np

from . import parts
from .parts import METALS, PALETTES, box, disk, pick, rod
from .spec import LinkSpec, ObjectSpec

GAP = 0.004


def safe(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A thick-walled box with one or two hinged doors, a dial or keypad, and a handle."""
    W, H, D = rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.8), rng.uniform(0.35, 0.6)
    wall = rng.uniform(0.03, 0.06)
    body = parts.color(rng, ["dark", "grey", "green", "white", "red"])
    metal = METALS[pick(rng, METALS)]
    shapes = parts.box_shell(D, W, H, wall, body)
    fx = -D / 2
    two = H > 0.5 and rng.random() < 0.35
    side = pick(rng, ["left", "right"])
    spans = [(-H / 2 + wall, H / 2 - wall)]
    if two:
        zs = -H / 2 + wall + rng.uniform(0.55, 0.7) * (H - 2 * wall)
        shapes.append(box((fx, -W / 2, zs - wall / 2), (D / 2, W / 2, zs + wall / 2), body))
        spans = [(-H / 2 + wall, zs - wall / 2), (zs + wall / 2, H / 2 - wall)]
    links = [LinkSpec("base", tuple(shapes), semantic="body")]
    lock = pick(rng, ["dial", "keypad", "none"])
    for k, (z0, z1) in enumerate(spans):
        y0, y1 = -W / 2 + wall + GAP, W / 2 - wall - GAP
        t = rng.uniform(0.03, 0.06)
        yc = (y0 + y1) / 2 + (0.15 if side == "left" else -0.15) * (y1 - y0)
        zc = (z0 + z1) / 2 + 0.15 * (z1 - z0)
        extra = []
        if lock == "dial":
            extra.append(disk((fx - t - 0.01, yc, zc), 0.05 * min(W, z1 - z0) + 0.02, 0.02, metal, axis=(1, 0, 0)))
        elif lock == "keypad":
            extra.append(box((fx - t - 0.008, yc - 0.05, zc - 0.04), (fx - t, yc + 0.05, zc + 0.04), PALETTES["dark"]))
        links.append(parts.door(f"door_{k}", fx, y0, y1, z0 + GAP, z1 - GAP, side, rng.uniform(1.4, 2.0),
                                body, pick(rng, ["bar", "knob", "bar"]), metal, thickness=t, extra=extra))
    return ObjectSpec("Safe", instance_id, tuple(links), dict(width=W, height=H, depth=D, doors=len(spans), lock=lock))


def refrigerator(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A tall box with a door layout: single, top freezer, bottom drawer, side by side or French."""
    W, H, D = rng.uniform(0.55, 0.95), rng.uniform(1.2, 1.95), rng.uniform(0.6, 0.8)
    t = 0.04
    body = parts.color(rng, ["white", "white", "grey", "dark", "red", "green"])
    metal = METALS[pick(rng, ["steel", "black", "steel"])]
    layout = pick(rng, ["single", "top_freezer", "bottom_drawer", "side_by_side", "french"])
    shapes = parts.box_shell(D, W, H, t, body)
    fx, y0, y1, z0, z1 = -D / 2, -W / 2 + GAP, W / 2 - GAP, -H / 2 + GAP, H / 2 - GAP
    links = [LinkSpec("base", tuple(shapes), semantic="body")]
    side = pick(rng, ["left", "right"])
    zs = z0 + rng.uniform(0.28, 0.4) * (z1 - z0)  # split height (bottom part below)
    ym = (y0 + y1) / 2

    def door(name, ya, yb, za, zb, s):
        return parts.door(name, fx, ya, yb, za, zb, s, rng.uniform(1.5, 2.1), body, "bar", metal, thickness=0.05)

    if layout == "single":
        links.append(door("door_main", y0, y1, z0, z1, side))
    elif layout == "top_freezer":
        zt = z1 - rng.uniform(0.25, 0.35) * (z1 - z0)
        links += [door("door_freezer", y0, y1, zt + GAP, z1, side), door("door_main", y0, y1, z0, zt - GAP, side)]
    elif layout == "bottom_drawer":
        links += [door("door_main", y0, y1, zs + GAP, z1, side),
                  parts.drawer("drawer_freezer", fx, y0, y1, z0, zs - GAP, 0.8 * D, 0.6 * D, body, "bar", metal, 0.05)]
    elif layout == "side_by_side":
        yf = y0 + rng.uniform(0.4, 0.5) * (y1 - y0)
        links += [door("door_left", y0, yf - GAP, z0, z1, "left"), door("door_right", yf + GAP, y1, z0, z1, "right")]
    else:  # french doors over a freezer drawer
        links += [door("door_left", y0, ym - GAP, zs + GAP, z1, "left"),
                  door("door_right", ym + GAP, y1, zs + GAP, z1, "right"),
                  parts.drawer("drawer_freezer", fx, y0, y1, z0, zs - GAP, 0.8 * D, 0.6 * D, body, "bar", metal, 0.05)]
    return ObjectSpec("Refrigerator", instance_id, tuple(links), dict(width=W, height=H, depth=D, layout=layout))


def microwave(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A box with a windowed door (side-hinged, or bottom-hinged like a toaster oven) and a control
    panel of fixed buttons beside it."""
    W, H, D = rng.uniform(0.42, 0.6), rng.uniform(0.25, 0.36), rng.uniform(0.32, 0.45)
    t = 0.02
    body = parts.color(rng, ["white", "dark", "grey", "red"])
    glass = (0.12, 0.13, 0.15, 1.0)
    shapes = parts.box_shell(D, W, H, t, body)
    fx = -D / 2
    panel_w = rng.uniform(0.2, 0.3) * W
    y0, y1, z0, z1 = -W / 2 + GAP, W / 2 - panel_w, -H / 2 + GAP, H / 2 - GAP
    shapes.append(box((fx - 0.01, y1 + GAP, z0), (fx, W / 2, z1),
                      PALETTES["dark"] if body != PALETTES["dark"] else PALETTES["grey"]))
    n_buttons = int(rng.integers(2, 7))
    for k in range(n_buttons):  # fixed buttons / knobs on the panel
        zk = z1 - (k + 1) * (z1 - z0) / (n_buttons + 1)
        shapes.append(disk((fx - 0.015, (y1 + W / 2) / 2, zk), 0.012 + 0.006 * (k % 2), 0.01,
                           METALS["steel"], axis=(1, 0, 0)))
    hinge_side = "bottom" if rng.random() < 0.2 else "left"
    handle = pick(rng, ["bar", "none"]) if hinge_side == "left" else "bar"
    window = box((fx - t - 0.003, y0 + 0.15 * (y1 - y0), z0 + 0.18 * (z1 - z0)),
                 (fx - t, y1 - 0.2 * (y1 - y0), z1 - 0.18 * (z1 - z0)), glass)
    door = parts.door("door", fx, y0, y1, z0, z1, hinge_side, rng.uniform(1.4, 1.9) if hinge_side == "left" else 1.5,
                      body, handle, METALS["steel"], thickness=t, extra=(window,))
    return ObjectSpec("Microwave", instance_id, (LinkSpec("base", tuple(shapes), semantic="body"), door),
                      dict(width=W, height=H, depth=D, hinge=hinge_side, handle=handle))


def washing_machine(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A front loader (round door hinged on its left, detergent drawer) or a top loader (lid)."""
    W, H, D = rng.uniform(0.55, 0.7), rng.uniform(0.8, 1.0), rng.uniform(0.5, 0.7)
    body = parts.color(rng, ["white", "white", "grey", "dark"])
    trim = PALETTES["grey"] if body == PALETTES["white"] else PALETTES["white"]
    shapes = [box((-D / 2, -W / 2, -H / 2), (D / 2, W / 2, H / 2), body)]
    fx = -D / 2
    kind = "top" if rng.random() < 0.3 else "front"
    movable = []  # movable links
    if kind == "front":
        r = rng.uniform(0.3, 0.4) * min(W, H)
        zc = -H / 2 + rng.uniform(0.38, 0.48) * H
        shapes.append(disk((fx - 0.005, 0, zc), 0.8 * r, 0.01, PALETTES["dark"], axis=(1, 0, 0)))
        door_shapes = (disk((fx - 0.03, 0, zc), r, 0.04, trim, axis=(1, 0, 0)),
                       disk((fx - 0.055, 0, zc), 0.7 * r, 0.012, (0.15, 0.2, 0.25, 1.0), axis=(1, 0, 0)),
                       box((fx - 0.07, 0.75 * r, zc - 0.2 * r), (fx - 0.05, 0.95 * r, zc + 0.2 * r), trim))
        joint = parts.hinge((fx - 0.05, -r, zc), (0, 0, 1), rng.uniform(1.4, 1.9))
        movable.append(LinkSpec("door", door_shapes, parent="base", joint=joint, semantic="door"))
        dw, dh = rng.uniform(0.25, 0.35) * W, rng.uniform(0.08, 0.12) * H
        y0, z1 = -W / 2 + 0.05, H / 2 - 0.04
        movable.append(parts.drawer("drawer_detergent", fx, y0, y0 + dw, z1 - dh, z1, 0.6 * D, 0.45 * D, body,
                                  "none", METALS["steel"], 0.02))
        # the drawer slides in a recess of the body: carve it as a dark inset
        shapes.append(box((fx - 0.001, y0, z1 - dh), (fx + 0.001, y0 + dw, z1), PALETTES["dark"]))
        shapes.append(disk((fx - 0.02, W / 4, H / 2 - 0.04 - dh / 2), 0.035, 0.03, METALS["steel"], axis=(1, 0, 0)))
    else:
        shapes = [box((-D / 2, -W / 2, -H / 2), (D / 2, W / 2, H / 2 - 0.02), body),
                  box((D / 2 - 0.12, -W / 2, H / 2 - 0.02), (D / 2, W / 2, H / 2 + 0.1), body),
                  box((D / 2 - 0.121, -W / 3, H / 2 + 0.02), (D / 2 - 0.12, W / 3, H / 2 + 0.08), PALETTES["dark"])]
        lx0, lx1 = -D / 2 + 0.03, D / 2 - 0.13
        lid_shapes = (box((lx0, -W / 2 + 0.03, H / 2 - 0.02), (lx1, W / 2 - 0.03, H / 2 + 0.01), trim),
                      box((lx0, -0.08, H / 2 + 0.01), (lx0 + 0.03, 0.08, H / 2 + 0.025), METALS["steel"]))
        movable.append(parts.lid("lid", lid_shapes, lx1, H / 2 - 0.02, rng.uniform(1.3, 1.7)))
    links = (LinkSpec("base", tuple(shapes), semantic="body"), *movable)
    return ObjectSpec("WashingMachine", instance_id, links, dict(width=W, height=H, depth=D, kind=kind))


def toaster(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A box with bread slots on top, a lever that lifts in a front track, and a crumb tray."""
    W, H, D = rng.uniform(0.26, 0.42), rng.uniform(0.17, 0.25), rng.uniform(0.15, 0.24)
    body = parts.color(rng, ["white", "red", "dark", "grey", "blue", "green"])
    metal = METALS[pick(rng, ["steel", "black"])]
    shapes = [box((-D / 2, -W / 2, -H / 2), (D / 2, W / 2, H / 2), body)]
    n_slots = int(rng.integers(1, 3)) * (2 if W > 0.33 else 1)
    for k in range(n_slots):
        yc = -W / 2 + (k + 0.5) * W / n_slots
        shapes.append(box((-D / 2 + 0.03, yc - W / n_slots * 0.3, H / 2),
                          (-D / 2 + 0.045, yc + W / n_slots * 0.3, H / 2 + 0.003), PALETTES["dark"]))
        shapes.append(box((D / 2 - 0.045, yc - W / n_slots * 0.3, H / 2),
                          (D / 2 - 0.03, yc + W / n_slots * 0.3, H / 2 + 0.003), PALETTES["dark"]))
    fx = -D / 2
    ly = rng.uniform(0.15, 0.3) * W * pick(rng, [-1, 1])
    shapes.append(box((fx - 0.004, ly - 0.006, -H / 2 + 0.03), (fx, ly + 0.006, H / 2 - 0.03),
                      PALETTES["dark"]))  # track
    shapes.append(disk((fx - 0.012, -ly, 0.0), 0.018, 0.02, metal, axis=(1, 0, 0)))  # browning knob
    # a long lever whose paddle stands well off the body, so a hand can reach it from above
    lw, ll = rng.uniform(0.035, 0.06), rng.uniform(0.08, 0.1)
    z_low = -H / 2 + 0.05  # clear of the crumb tray below
    lever = (box((fx - 0.5 * ll, ly - 0.006, z_low), (fx, ly + 0.006, z_low + 0.01), metal),
             box((fx - ll, ly - lw / 2, z_low), (fx - 0.5 * ll, ly + lw / 2, z_low + 0.014), metal))
    links = [LinkSpec("base", tuple(shapes), semantic="body"),
             parts.lift("lever", lever, (fx, ly, z_low), H - 0.08, semantic="lever")]
    tray = rng.random() < 0.5
    if tray:
        links.append(parts.drawer("crumb_tray", fx - 0.004, -W / 2 + 0.03, W / 2 - 0.03, -H / 2 + 0.002, -H / 2 + 0.03,
                                  0.8 * D, 0.7 * D, metal, "bar", metal, 0.012))
    return ObjectSpec("Toaster", instance_id, tuple(links), dict(width=W, height=H, depth=D, slots=n_slots, tray=tray))


def dispenser(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A pump bottle whose head lifts, or a wall box with a front cover hinged at the top."""
    kind = "pump" if rng.random() < 0.6 else "wall"
    body = parts.color(rng, ["white", "blue", "green", "grey", "red", "light_wood"])
    metal = METALS[pick(rng, METALS)]
    if kind == "pump":
        r, h = rng.uniform(0.03, 0.055), rng.uniform(0.12, 0.22)
        square = rng.random() < 0.4
        base = [box((-r, -r, 0), (r, r, h), body) if square else rod((0, 0, 0), (0, 0, h), r, body),
                rod((0, 0, h), (0, 0, h + 0.015), 0.5 * r, metal)]
        stem_r = 0.2 * r
        top = h + 0.015
        head_h = rng.uniform(0.015, 0.025)
        nozzle = rng.uniform(0.03, 0.05)
        head = (rod((0, 0, top), (0, 0, top + 0.02), stem_r, metal),
                box((-0.6 * r, -0.6 * r, top + 0.02), (0.6 * r, 0.6 * r, top + 0.02 + head_h), metal),
                box((-0.6 * r - nozzle, -0.15 * r, top + 0.02 + 0.3 * head_h),
                    (-0.6 * r, 0.15 * r, top + 0.02 + head_h), metal))
        links = (LinkSpec("base", tuple(base), semantic="body"),
                 parts.lift("pump_head", head, (0, 0, top), rng.uniform(0.7, 1.0) * h * 0.35 + 0.03, semantic="pump"))
        params = dict(kind=kind, radius=r, height=h, square=square)
    else:
        W, H, D = rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.35), rng.uniform(0.08, 0.14)
        base = [box((D / 2 - 0.01, -W / 2, -H / 2), (D / 2, W / 2, H / 2), body),
                box((-D / 2 + 0.01, -W / 2, -H / 2), (D / 2, -W / 2 + 0.01, H / 2), body),
                box((-D / 2 + 0.01, W / 2 - 0.01, -H / 2), (D / 2, W / 2, H / 2), body),
                box((-D / 2 + 0.01, -W / 2, -H / 2), (D / 2, W / 2, -H / 2 + 0.01), body)]
        window = box((-D / 2 - 0.003, -0.1 * W, 0.1 * H), (-D / 2 + 0.001, 0.1 * W, 0.35 * H), (0.3, 0.4, 0.5, 1.0))
        cover = parts.door("cover", -D / 2 + 0.01, -W / 2, W / 2, -H / 2 + 0.03, H / 2, "top", rng.uniform(1.0, 1.5),
                           body, "none", metal, thickness=0.01, extra=(window,), semantic="cover")
        push = parts.door("push_lever", -D / 2 - 0.002, -0.25 * W, 0.25 * W, -H / 2 - 0.03, -H / 2 + 0.025, "top",
                          rng.uniform(0.5, 0.8), metal, "none", metal, thickness=0.015, semantic="lever")
        links = (LinkSpec("base", tuple(base), semantic="body"), cover, push)
        params = dict(kind=kind, width=W, height=H, depth=D)
    return ObjectSpec("Dispenser", instance_id, links, params)
