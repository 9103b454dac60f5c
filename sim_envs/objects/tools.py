"""Hand-held tools and fittings: Pliers, Scissors, Stapler, Lighter, Faucet.

Pliers and scissors lie flat with their pivot axis vertical, long axis along y, and the movable half
on the viewer's side (-x), so that opening swings its handle toward the viewer. Their grips and
loops are round bars: a pull along the visible surface normal then has a component that opens
them, as it does on a real rounded grip (a flat top face would pull along the pivot axis).
"""
from __future__ import annotations

import numpy as np

from . import parts
from .parts import METALS, PALETTES, ball, box, disk, pick, rod, rotated_box
from .spec import LinkSpec, ObjectSpec


def _tilted_blade(p0, p1, width, thickness, color, tilt) -> object:
    """A flat blade from p0 to p1 (horizontal), rolled about its length by `tilt` radians so its
    top face leans toward +x (away from the viewer)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    x = (p1 - p0) / np.linalg.norm(p1 - p0)
    z0 = np.array([0.0, 0.0, 1.0])
    y0 = np.cross(z0, x)
    c, s = np.cos(tilt), np.sin(tilt)
    z = c * z0 - s * y0 * np.sign(x[1] if x[1] != 0 else 1)
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=1)
    return rotated_box((p0 + p1) / 2, (np.linalg.norm(p1 - p0) / 2, width / 2, thickness / 2), R, color)


def _two_halves(category, instance_id, rng, handle_len, jaw_len, grip_r, jaw_w, loops):
    """Shared layout of pliers and scissors: the pivot at the origin, handles toward +y, jaws or
    blades toward -y. The fixed half's handle sits at +x (away from the viewer), the movable half's
    at -x; the jaws cross over."""
    spread = rng.uniform(0.12, 0.22)  # closed half-angle between the handles (rad)
    steel = METALS["steel"]
    gripc = parts.color(rng, ["red", "blue", "dark", "green"]) if rng.random() < 0.8 else PALETTES["grey"]
    t = 0.6 * grip_r
    z = grip_r  # everything rests on z = 0
    halves = []
    for sgn in (+1, -1):  # +1: fixed half (handle at +x), -1: movable half (handle at -x)
        hx = sgn * np.sin(spread) * handle_len
        hy = np.cos(spread) * handle_len
        jx = -sgn * np.sin(0.3 * spread) * jaw_len  # jaws cross to the other side
        jy = -jaw_len
        shapes = [_tilted_blade((0, 0, z), (jx, jy, z), jaw_w, t, steel, 0.35 * -sgn),
                  rod((0, 0, z), (0.25 * hx, 0.25 * hy, z), 0.6 * grip_r, steel)]
        if loops:
            # a finger loop: four round bars around a rectangle at the handle's end
            a = np.array([0.25 * hx, 0.25 * hy, z])
            b = np.array([hx, hy, z])
            along = (b - a) / np.linalg.norm(b - a)
            side = np.array([-along[1], along[0], 0.0]) * sgn * -1  # outward (away from the other half)
            w = rng.uniform(0.5, 0.8) * 0.35 * handle_len
            c0, c1 = a, b
            o0, o1 = a + side * w, b + side * w
            shapes += [rod(c0, c1, grip_r, gripc), rod(o0, o1, grip_r, gripc),
                       rod(c0, o0, grip_r, gripc), rod(c1, o1, grip_r, gripc)]
        else:
            shapes.append(rod((0.25 * hx, 0.25 * hy, z), (hx, hy, z), grip_r, gripc))
        if sgn == 1:
            shapes.append(disk((0, 0, z), 1.6 * grip_r, 2.2 * grip_r, steel))  # pivot
        halves.append(tuple(shapes))
    # positive q about +z turns the movable handle (+y end) toward -x: opening
    joint = parts.hinge((0, 0, z), (0, 0, 1), rng.uniform(0.5, 0.8))
    links = (LinkSpec("base", halves[0], semantic="handle"),
             LinkSpec("movable_half", halves[1], parent="base", joint=joint, semantic="handle"))
    return ObjectSpec(category, instance_id, links, dict(handle=handle_len, jaw=jaw_len, spread=spread))


# ranges of the two-halves tools: length, handle and jaw fractions of it, grip radius, jaw width; loops
TWO_HALVES = {
    "Pliers": ((0.14, 0.25), (0.6, 0.7), (0.25, 0.4), (0.007, 0.011), (0.012, 0.02), False),
    "Scissors": ((0.15, 0.25), (0.35, 0.45), (0.5, 0.65), (0.004, 0.007), (0.01, 0.018), True),
}


def _two_halves_sampled(category: str, instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    length, handle, jaw, grip_r, jaw_w, loops = TWO_HALVES[category]
    L = rng.uniform(*length)
    return _two_halves(category, instance_id, rng, handle_len=L * rng.uniform(*handle), jaw_len=L * rng.uniform(*jaw),
                       grip_r=rng.uniform(*grip_r), jaw_w=rng.uniform(*jaw_w), loops=loops)


def pliers(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    return _two_halves_sampled("Pliers", instance_id, rng)


def scissors(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    return _two_halves_sampled("Scissors", instance_id, rng)


def stapler(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A base plate and a top arm hinged at the back; it points at the viewer."""
    L, W = rng.uniform(0.12, 0.22), rng.uniform(0.03, 0.05)
    arm_h = rng.uniform(0.6, 0.8) * W
    c = parts.color(rng, ["dark", "red", "blue", "grey", "green"])
    base_c = METALS["black"] if rng.random() < 0.6 else c
    base = [box((-L / 2, -W / 2 - 0.004, 0), (L / 2, W / 2 + 0.004, 0.01), base_c),
            box((L / 2 - 0.025, -W / 2, 0.01), (L / 2, W / 2, 0.025), base_c),  # hinge block
            box((-L / 2 + 0.005, -0.008, 0.01), (-L / 2 + 0.02, 0.008, 0.012), METALS["steel"])]  # anvil
    ra = W / 2  # the arm's back is rounded: a half-round shell along its length
    front = (-L / 2 + 0.003 + ra, 0, 0.026 + arm_h - ra)
    arm = [rod(front, (L / 2 - 0.005, 0, 0.026 + arm_h - ra), ra, c), ball(front, ra, c),
           box((-L / 2 + 0.003, -W / 2 + 0.004, 0.02), (L / 2 - 0.03, W / 2 - 0.004, 0.026), METALS["steel"])]
    links = (LinkSpec("base", tuple(base), semantic="body"),
             parts.lid("arm", arm, L / 2 - 0.012, 0.025, rng.uniform(0.6, 1.4), semantic="arm"))
    return ObjectSpec("Stapler", instance_id, links, dict(length=L, width=W, arm_height=arm_h))


def lighter(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A flip-top lighter: a case whose lid is hinged on the viewer's side, with a chimney and a
    flint wheel under it."""
    W, D, H = rng.uniform(0.03, 0.045), rng.uniform(0.012, 0.02), rng.uniform(0.045, 0.065)
    split = rng.uniform(0.6, 0.72) * H
    c = (METALS[pick(rng, ["steel", "brass", "black"])] if rng.random() < 0.7
         else parts.color(rng, ["red", "blue", "dark", "green"]))
    base = [box((-D / 2, -W / 2, 0), (D / 2, W / 2, split), c),
            box((-D / 2 + 0.002, -W / 2 + 0.004, split), (D / 2 - 0.002, W / 2 - 0.012, split + 0.6 * (H - split)),
                METALS["steel"]),
            disk((0, W / 2 - 0.007, split + 0.004), 0.004, 0.006, PALETTES["dark"], axis=(1, 0, 0))]
    lid = [box((-D / 2, -W / 2, split + 0.0005), (D / 2, W / 2, H), c)]
    links = (LinkSpec("base", tuple(base), semantic="body"),
             parts.lid("lid", lid, -D / 2, split + 0.0005, rng.uniform(1.6, 2.6), hinge_at="front"))
    return ObjectSpec("Lighter", instance_id, links, dict(width=W, depth=D, height=H))


def faucet(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A column with a spout toward the viewer and either one lever on top (lifts about y) or two
    side levers (lift about x)."""
    metal = METALS[pick(rng, ["steel", "steel", "brass", "black"])]
    H = rng.uniform(0.12, 0.3)
    r = rng.uniform(0.018, 0.03)
    reach = rng.uniform(0.1, 0.2)
    base = [rod((0, 0, 0), (0, 0, 0.012), 2.2 * r, metal), rod((0, 0, 0), (0, 0, H), r, metal),
            rod((0, 0, H), (-reach, 0, H + 0.02), 0.7 * r, metal),
            rod((-reach, 0, H + 0.02), (-reach, 0, H - 0.04), 0.7 * r, metal)]
    kind = pick(rng, ["single", "double"])
    lever_len = rng.uniform(0.08, 0.12)
    lw = rng.uniform(0.015, 0.025)
    links = []
    if kind == "single":
        # a cartridge on top of the column and a lever pointing back (+x) or to the side (+y)
        z = H + 0.03
        base.append(rod((0, 0, H), (0, 0, z), 0.9 * r, metal))
        side = rng.random() < 0.4
        if side:
            lever = [box((-lw / 2, 0, z + 0.001), (lw / 2, lever_len, z + 0.013), metal),
                     ball((0, lever_len, z + 0.007), 0.6 * lw, metal)]
            axis = (1, 0, 0)
        else:
            lever = [box((0, -lw / 2, z + 0.001), (lever_len, lw / 2, z + 0.013), metal),
                     ball((lever_len, 0, z + 0.007), 0.6 * lw, metal)]
            axis = (0, -1, 0)
        links.append(LinkSpec("lever", tuple(lever), parent="base",
                              joint=parts.hinge((0, 0, z), axis, rng.uniform(0.6, 1.0)), semantic="lever"))
    else:
        # a bridge faucet: two valves at the top of the column, one lever on each
        off = rng.uniform(0.06, 0.1)
        zv = H - 0.03
        for name, s in (("lever_left", -1), ("lever_right", 1)):
            base.append(rod((0, 0, zv), (0, s * off, zv), 0.6 * r, metal))
            base.append(rod((0, s * off, zv), (0, s * off, zv + 0.02), 0.8 * r, metal))
            z = zv + 0.02
            lever = [box((-lw / 2, s * off, z), (lw / 2, s * (off + lever_len), z + 0.01), metal)]
            axis = (s * 1.0, 0, 0)  # lifting the outer end
            links.append(LinkSpec(name, tuple(lever), parent="base",
                                  joint=parts.hinge((0, s * off, z), axis, rng.uniform(0.6, 1.0)), semantic="lever"))
    return ObjectSpec("Faucet", instance_id, (LinkSpec("base", tuple(base), semantic="body"), *links),
                      dict(height=H, reach=reach, kind=kind))
