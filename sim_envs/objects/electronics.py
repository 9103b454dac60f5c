"""Electronics and small devices: Display, Laptop, Mouse, Remote, Phone, USB, Switch, Lamp.

Front faces -x, z up, metres before normalisation. Buttons, wheels and keys are fixed detail; the
movable parts are the ones that swing, flip or lift.
"""
from __future__ import annotations

import numpy as np

from . import parts
from .parts import METALS, PALETTES, box, disk, pick, rod
from .spec import LinkSpec, ObjectSpec

SCREEN = (0.08, 0.1, 0.14, 1.0)
PLASTIC = ["dark", "grey", "white", "blue", "red"]


def display(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A monitor or TV on a stand whose screen tilts forward about a bracket low on its back."""
    aspect = pick(rng, [16 / 9, 16 / 10, 4 / 3, 21 / 9])
    W = rng.uniform(0.4, 0.9)
    Hs = W / aspect
    t = rng.uniform(0.02, 0.05)
    bezel = parts.color(rng, ["dark", "dark", "grey", "white"])
    neck_h = rng.uniform(0.05, 0.2)
    foot = pick(rng, ["plate", "disk", "legs"])
    base = []
    if foot == "plate":
        base.append(box((-0.12, -0.15, 0), (0.1, 0.15, 0.015), bezel))
    elif foot == "disk":
        base.append(disk((0, 0, 0.0075), 0.13, 0.015, bezel))
    else:
        for s in (-1, 1):
            base.append(box((-0.1, s * 0.35 * W - 0.02, 0), (0.08, s * 0.35 * W + 0.02, 0.015), bezel))
    pivot_z = neck_h + 0.25 * Hs
    x_back = t / 2
    if foot == "legs":
        for s in (-1, 1):
            base.append(box((x_back + 0.003, s * 0.35 * W - 0.01, 0.015),
                            (x_back + 0.02, s * 0.35 * W + 0.01, pivot_z), bezel))
        base.append(box((x_back + 0.003, -0.35 * W, pivot_z - 0.02), (x_back + 0.02, 0.35 * W, pivot_z), bezel))
    else:
        base.append(box((x_back + 0.005, -0.03, 0.015), (x_back + 0.025, 0.03, pivot_z + 0.02), bezel))
    z0 = neck_h
    screen = [box((-t / 2, -W / 2, z0), (t / 2, W / 2, z0 + Hs), bezel),
              box((-t / 2 - 0.002, -W / 2 + 0.015, z0 + 0.02), (-t / 2, W / 2 - 0.015, z0 + Hs - 0.015), SCREEN)]
    pivot_x = x_back + 0.005
    # axis -y: positive q tips the screen's top toward the viewer
    joint = parts.hinge((pivot_x, 0, pivot_z), (0, -1, 0), rng.uniform(0.3, 0.6))
    links = (LinkSpec("base", tuple(base), semantic="stand"),
             LinkSpec("screen", tuple(screen), parent="base", joint=joint, semantic="screen"))
    return ObjectSpec("Display", instance_id, links, dict(width=W, aspect=aspect, foot=foot))


def laptop(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A base with keyboard and touchpad, and a lid hinged at the back (closed = lying on the base)."""
    W, D = rng.uniform(0.28, 0.4), rng.uniform(0.19, 0.27)
    tb, tl = rng.uniform(0.012, 0.02), rng.uniform(0.005, 0.01)
    c = parts.color(rng, ["grey", "dark", "white"]) if rng.random() < 0.6 else METALS["steel"]
    base = [box((-D / 2, -W / 2, 0), (D / 2, W / 2, tb), c),
            box((-D / 2 + 0.35 * D, -W / 2 + 0.02, tb), (D / 2 - 0.02, W / 2 - 0.02, tb + 0.001), PALETTES["dark"]),
            box((-D / 2 + 0.03, -0.2 * W, tb), (-D / 2 + 0.03 + 0.25 * D, 0.2 * W, tb + 0.001), PALETTES["grey"])]
    z = tb + 0.0015
    lid = [box((-D / 2, -W / 2, z), (D / 2, W / 2, z + tl), c),
           box((-D / 2 + 0.01, -W / 2 + 0.01, z - 0.0005), (D / 2 - 0.01, W / 2 - 0.01, z), SCREEN)]
    links = (LinkSpec("base", tuple(base), semantic="body"),
             parts.lid("lid", lid, D / 2, z, rng.uniform(1.8, 2.4), semantic="screen"))
    return ObjectSpec("Laptop", instance_id, links, dict(width=W, depth=D))


def mouse(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A rounded body with a fixed scroll wheel and two buttons hinged at the back of the palm rest
    (they flip up; their range is generous so the benchmark's pull can move them)."""
    L, W = rng.uniform(0.09, 0.13), rng.uniform(0.055, 0.075)
    H = rng.uniform(0.025, 0.04)
    c = parts.color(rng, PLASTIC)
    bc = c if rng.random() < 0.6 else parts.color(rng, PLASTIC)
    split = -L / 2 + rng.uniform(0.45, 0.55) * L
    base = [box((-L / 2, -W / 2, 0), (L / 2, W / 2, 0.6 * H), c),  # rounded palm rest behind the buttons
            rod((split, 0, 0.6 * H - 0.3 * W), (L / 2, 0, 0.6 * H - 0.3 * W), W / 2, c)]
    zt = 0.6 * H + 0.002
    base.append(disk((-L / 2 + 0.25 * L, 0, zt + 0.006), 0.008, 0.006, PALETTES["dark"], axis=(0, 1, 0)))
    links = [LinkSpec("base", tuple(base), semantic="body")]
    for name, y0, y1 in (("button_left", -W / 2, -0.006), ("button_right", 0.006, W / 2)):
        shapes = (box((-L / 2, y0, zt), (split, y1, zt + 0.006), bc),)
        links.append(parts.lid(name, shapes, split, zt, rng.uniform(0.35, 0.6), semantic="button"))
    return ObjectSpec("Mouse", instance_id, tuple(links), dict(length=L, width=W, height=H))


def remote(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A slab with rows of fixed buttons and a flip cover over the lower keypad, hinged mid-body."""
    L, W, H = rng.uniform(0.14, 0.22), rng.uniform(0.04, 0.06), rng.uniform(0.015, 0.025)
    c = parts.color(rng, PLASTIC)
    base = [box((-L / 2, -W / 2, 0), (L / 2, W / 2, H), c)]
    rows, cols = int(rng.integers(4, 8)), int(rng.integers(2, 4))
    for i in range(rows):
        for j in range(cols):
            x = -L / 2 + 0.12 * L + i * 0.8 * L / rows
            y = -W / 2 + (j + 0.5) * W / cols
            bcol = PALETTES["red"] if (i, j) == (rows - 1, 0) else parts.color(rng, ["grey", "white", "dark"])
            base.append(box((x - 0.005, y - 0.3 * W / cols, H), (x + 0.005, y + 0.3 * W / cols, H + 0.003), bcol))
    frac = rng.uniform(0.4, 0.6)
    hinge_x = -L / 2 + frac * L
    cover_c = c if rng.random() < 0.5 else parts.color(rng, PLASTIC)
    cover = (box((-L / 2, -W / 2, H + 0.004), (hinge_x, W / 2, H + 0.008), cover_c),)
    links = (LinkSpec("base", tuple(base), semantic="body"),
             parts.lid("cover", cover, hinge_x, H + 0.004, rng.uniform(2.0, 3.0), semantic="cover"))
    return ObjectSpec("Remote", instance_id, links, dict(length=L, width=W, rows=rows, cols=cols))


def phone(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A flip phone (upper half folded on the keypad, hinged at the back) or a desk phone whose
    handset lifts off its cradle."""
    c = parts.color(rng, PLASTIC)
    if rng.random() < 0.55:
        L, W, t = rng.uniform(0.08, 0.11), rng.uniform(0.045, 0.055), rng.uniform(0.008, 0.012)
        base = [box((-L / 2, -W / 2, 0), (L / 2, W / 2, t), c),
                box((-L / 2 + 0.01, -W / 2 + 0.006, t), (L / 2 - 0.01, W / 2 - 0.006, t + 0.001), PALETTES["grey"])]
        top = [box((-L / 2, -W / 2, t + 0.0015), (L / 2, W / 2, 2 * t), c),
               box((-L / 2 + 0.02, -W / 2 + 0.008, 2 * t), (L / 2 - 0.03, W / 2 - 0.008, 2 * t + 0.0008), SCREEN)]
        links = (LinkSpec("base", tuple(base), semantic="body"),
                 parts.lid("flip", top, L / 2, t + 0.0015, rng.uniform(2.4, 3.0), semantic="screen"))
        return ObjectSpec("Phone", instance_id, links, dict(kind="flip", length=L, width=W))
    W, D, H = rng.uniform(0.18, 0.25), rng.uniform(0.16, 0.22), rng.uniform(0.05, 0.08)
    base = [box((-D / 2, -W / 2, 0), (D / 2, W / 2, 0.6 * H), c),
            box((0.0, -W / 2, 0.6 * H), (D / 2, W / 2, H), c)]  # raised cradle at the back
    for i in range(4):
        for j in range(3):
            base.append(box((-D / 2 + 0.02 + i * 0.022, -0.03 + j * 0.025, 0.6 * H),
                            (-D / 2 + 0.035 + i * 0.022, -0.02 + j * 0.025, 0.6 * H + 0.003), PALETTES["grey"]))
    hl = rng.uniform(0.8, 0.95) * W
    hw = rng.uniform(0.035, 0.05)
    z = H + 0.001
    x0 = D / 4 - hw / 2
    handset = (box((x0, -hl / 2 + 0.03, z), (x0 + hw, hl / 2 - 0.03, z + 0.02), c),
               box((x0 - 0.005, -hl / 2, z), (x0 + hw + 0.005, -hl / 2 + 0.04, z + 0.03), c),
               box((x0 - 0.005, hl / 2 - 0.04, z), (x0 + hw + 0.005, hl / 2, z + 0.03), c))
    links = (LinkSpec("base", tuple(base), semantic="body"),
             parts.lift("handset", handset, (x0, 0, z), rng.uniform(0.1, 0.16), semantic="handset"))
    return ObjectSpec("Phone", instance_id, links, dict(kind="desk", width=W, depth=D))


def usb(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A flash drive lying flat along y: a swivel cover of round bars turning about a vertical pin,
    or a connector that flips up out of the body."""
    L, Wx, T = rng.uniform(0.045, 0.065), rng.uniform(0.016, 0.022), rng.uniform(0.007, 0.011)
    c = parts.color(rng, PLASTIC + ["green"])
    metal = METALS["steel"]
    z0 = 0.006  # rests on the swivel's lower bar
    base = [box((-Wx / 2, -L / 2, z0), (Wx / 2, L / 2, z0 + T), c)]
    conn = rng.uniform(0.011, 0.013)
    if rng.random() < 0.6:
        base.append(box((-0.006, -L / 2 - conn, z0 + T / 2 - 0.0022), (0.006, -L / 2, z0 + T / 2 + 0.0022), metal))
        r = 0.45 * Wx
        yp = L / 2 - 0.006
        y_end = -L / 2 - conn - r
        zt, zb = z0 + T + r, z0 - r + 0.0005
        cover = (rod((0, yp, zt), (0, y_end, zt), r, metal), rod((0, yp, zb), (0, y_end, zb), r, metal),
                 rod((0, y_end, zb), (0, y_end, zt), r, metal), disk((0, yp, z0 + T / 2), 0.7 * r, T + 2 * r, metal))
        # axis -z: positive q swings the far end (-y) toward the viewer (-x)
        joint = parts.hinge((0, yp, z0 + T / 2), (0, 0, -1), rng.uniform(1.5, 3.0))
        links = (LinkSpec("base", tuple(base), semantic="body"),
                 LinkSpec("swivel", cover, parent="base", joint=joint, semantic="cover"))
        kind = "swivel"
    else:
        slot = (-0.0065, -L / 2, z0 + T - 0.003)
        base.append(box(slot, (0.0065, -L / 2 + 0.004, z0 + T), PALETTES["dark"]))
        arm = (box((-0.006, -L / 2 - conn, z0 + T + 0.0005), (0.006, L / 2 - 0.01, z0 + T + 0.0035), metal),)
        # axis -x: positive q lifts the connector's free end (-y) out of its slot
        joint = parts.hinge((0, L / 2 - 0.01, z0 + T + 0.0005), (-1, 0, 0), rng.uniform(1.5, 3.0))
        links = (LinkSpec("base", tuple(base), semantic="body"),
                 LinkSpec("connector", arm, parent="base", joint=joint, semantic="connector"))
        kind = "flip"
    return ObjectSpec("USB", instance_id, links, dict(kind=kind, length=L, width=Wx))


def switch(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A wall plate with one to three toggle levers that flip up about a horizontal axis."""
    n = int(rng.integers(1, 4))
    W, H = rng.uniform(0.07, 0.09) * (1 + 0.6 * (n - 1)), rng.uniform(0.11, 0.13)
    c = parts.color(rng, ["white", "white", "grey", "dark", "light_wood"])
    lc = c if rng.random() < 0.6 else METALS[pick(rng, METALS)]
    base = [box((0.0, -W / 2, -H / 2), (0.008, W / 2, H / 2), c)]
    toggles = []
    style = pick(rng, ["bat", "paddle"])
    L = rng.uniform(0.02, 0.03)
    tilt = rng.uniform(0.4, 0.6)  # rests tipped down
    for k in range(n):
        y = -W / 2 + (k + 0.5) * W / n
        base.append(box((-0.004, y - 0.012, -0.02), (0.0, y + 0.012, 0.02), c))
        tip = np.array([-L * np.cos(tilt), 0.0, -L * np.sin(tilt)])  # from the pivot
        pivot = np.array([-0.004, y, 0.0])
        if style == "bat":
            shapes = (rod(pivot, pivot + tip, 0.005, lc),)
        else:
            R = np.array([[np.cos(tilt), 0, -np.sin(tilt)], [0, 1, 0], [np.sin(tilt), 0, np.cos(tilt)]])
            shapes = (parts.rotated_box(pivot + tip / 2, (L / 2, 0.008, 0.003), R, lc),)
        # axis +y: positive q lifts the tip (it swings up through horizontal)
        toggles.append(LinkSpec(f"toggle_{k}", shapes, parent="base",
                              joint=parts.hinge(pivot, (0, 1, 0), 2 * tilt), semantic="toggle"))
    links = (LinkSpec("base", tuple(base), semantic="plate"), *toggles)
    return ObjectSpec("Switch", instance_id, links, dict(gangs=n, style=style))


def lamp(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A desk lamp: a base, one or two arm segments and a shade, each joint hinged about y."""
    c = parts.color(rng, ["dark", "white", "red", "green", "blue"]) if rng.random() < 0.7 else METALS[pick(rng, METALS)]
    base_r = rng.uniform(0.07, 0.11)
    base = [disk((0, 0, 0.01), base_r, 0.02, c), rod((0, 0, 0.02), (0, 0, 0.05), 0.012, c)]
    arm_r = rng.uniform(0.007, 0.012)
    a1 = rng.uniform(0.2, 0.35)
    two = rng.random() < 0.6
    links = [LinkSpec("base", tuple(base), semantic="base")]
    # lower arm: leans back from the base pivot; axis -y tips it toward the viewer
    lean = rng.uniform(0.2, 0.4)
    p0 = np.array([0.0, 0.0, 0.05])
    p1 = p0 + a1 * np.array([np.sin(lean), 0, np.cos(lean)])
    links.append(LinkSpec("arm_lower", (rod(p0, p1, arm_r, c), disk(p0, 1.8 * arm_r, 0.02, c, axis=(0, 1, 0))),
                          parent="base", joint=parts.hinge(p0, (0, -1, 0), rng.uniform(0.5, 0.8)), semantic="arm"))
    parent, pj = "arm_lower", p1
    if two:
        a2 = rng.uniform(0.18, 0.3)
        p2 = p1 + a2 * np.array([-np.cos(0.3), 0, np.sin(0.3)])
        # upper arm reaches toward the viewer; axis +y lifts its far end
        links.append(LinkSpec("arm_upper", (rod(p1, p2, arm_r, c), disk(p1, 1.8 * arm_r, 0.02, c, axis=(0, 1, 0))),
                              parent=parent, joint=parts.hinge(p1, (0, 1, 0), rng.uniform(0.5, 0.9)), semantic="arm"))
        parent, pj = "arm_upper", p2
    sr, sl = rng.uniform(0.05, 0.08), rng.uniform(0.08, 0.13)
    shade_c = c if rng.random() < 0.6 else parts.color(rng, ["white", "dark", "red", "green"])
    tip = pj + np.array([-sl * 0.8, 0, -sl * 0.6])
    shade = (rod(pj, tip, sr, shade_c), disk(pj, 1.5 * arm_r, 0.02, c, axis=(0, 1, 0)),
             rod(tip, tip + 0.3 * (tip - pj) / np.linalg.norm(tip - pj) * 0.05, 0.8 * sr, (0.98, 0.95, 0.8, 1.0)))
    # the shade tilts up about y at the end of the arm: axis +y lifts its front
    links.append(LinkSpec("shade", shade, parent=parent, joint=parts.hinge(pj, (0, 1, 0), rng.uniform(0.5, 1.0)),
                          semantic="shade"))
    return ObjectSpec("Lamp", instance_id, tuple(links), dict(two_arms=two, base_radius=base_r))
