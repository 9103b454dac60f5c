"""Things that hold things, opened by a lid, flaps, a cap or a handle: Box, TrashCan, KitchenPot,
Bottle, Kettle, Suitcase.

Bodies stand on z = 0 with their front facing -x; sizes are in metres before normalisation.
"""
from __future__ import annotations

import numpy as np

from . import parts
from .parts import METALS, ball, box, disk, pick, rod
from .spec import LinkSpec, ObjectSpec

CARDBOARD = (0.72, 0.56, 0.36, 1.0)


def box_(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """An open-top box closed by a hinged lid, or a carton with two or four flaps."""
    W, D, H = rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5), rng.uniform(0.12, 0.45)
    kind = pick(rng, ["lid", "flaps2", "flaps4"])
    c = CARDBOARD if kind != "lid" or rng.random() < 0.3 else parts.color(rng)
    t = 0.008
    shell = [s for s in parts.box_shell(D, W, H, t, c, open_side="top")]
    shell = [parts.box(np.asarray(s.pos) - s.size + (0, 0, H / 2), np.asarray(s.pos) + s.size + (0, 0, H / 2), c)
             for s in shell]
    links = [LinkSpec("base", tuple(shell), semantic="body")]
    top = H + 0.001
    if kind == "lid":
        skirt = rng.uniform(0.0, 0.3) * H
        shapes = [box((-D / 2 - t, -W / 2 - t, top), (D / 2 + t, W / 2 + t, top + t), c)]
        if skirt > 0.02:
            shapes += [box((-D / 2 - 2 * t, -W / 2 - t, top - skirt), (-D / 2 - t, W / 2 + t, top + t), c),
                       box((-D / 2 - t, -W / 2 - 2 * t, top - skirt), (D / 2 + t, -W / 2 - t, top + t), c),
                       box((-D / 2 - t, W / 2 + t, top - skirt), (D / 2 + t, W / 2 + 2 * t, top + t), c)]
        links.append(parts.lid("lid", shapes, D / 2 + t, top, rng.uniform(1.6, 2.4)))
    else:
        # side flaps meet in the middle; front/back flaps (if any) lie just below them
        z = top + (t + 0.001 if kind == "flaps4" else 0.0)
        if kind == "flaps4":
            for name, x0, x1, hx, axis in (("flap_front", -D / 2, -D / 2 + 0.45 * D, -D / 2, (0, -1, 0)),
                                           ("flap_back", D / 2 - 0.45 * D, D / 2, D / 2, (0, 1, 0))):
                j = parts.hinge((hx, 0, top), axis, rng.uniform(2.0, 3.0))
                links.append(LinkSpec(name, (box((x0, -W / 2, top), (x1, W / 2, top + t), c),), "base", j, "flap"))
        for name, y0, y1, hy, axis in (("flap_left", -W / 2, -0.002, -W / 2, (1, 0, 0)),
                                       ("flap_right", 0.002, W / 2, W / 2, (-1, 0, 0))):
            j = parts.hinge((0, hy, z), axis, rng.uniform(2.0, 3.0))
            links.append(LinkSpec(name, (box((-D / 2, y0, z), (D / 2, y1, z + t), c),), "base", j, "flap"))
    return ObjectSpec("Box", instance_id, tuple(links), dict(width=W, depth=D, height=H, kind=kind))


def trash_can(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A round or square bin with a flip lid hinged at the back (one or two compartments), maybe a
    pedal."""
    round_ = rng.random() < 0.5
    H = rng.uniform(0.3, 0.75)
    W = rng.uniform(0.25, 0.45) if round_ else rng.uniform(0.25, 0.6)
    D = W if round_ else rng.uniform(0.25, 0.45)
    body = parts.color(rng, ["grey", "dark", "white", "blue", "green", "red"])
    lidc = body if rng.random() < 0.5 else METALS[pick(rng, ["steel", "black"])]
    base = [rod((0, 0, 0), (0, 0, H), W / 2, body)] if round_ else [box((-D / 2, -W / 2, 0), (D / 2, W / 2, H), body)]
    pedal = rng.random() < 0.4
    if pedal:
        base.append(box((-D / 2 - 0.06, -0.05, 0.01), (-D / 2 + 0.01, 0.05, 0.03), METALS["steel"]))
    links = [LinkSpec("base", tuple(base), semantic="body")]
    t = rng.uniform(0.012, 0.03)
    split = (not round_) and W > 0.45 and rng.random() < 0.5
    spans = [(-W / 2, -0.002), (0.002, W / 2)] if split else [(-W / 2, W / 2)]
    for k, (y0, y1) in enumerate(spans):
        if round_:
            shapes = [disk((0, 0, H + t / 2 + 0.001), W / 2 + 0.005, t, lidc)]
        else:
            shapes = [box((-D / 2 - 0.005, y0, H + 0.001), (D / 2 + 0.005, y1, H + 0.001 + t), lidc)]
        shapes.append(box((-D / 2 - 0.02, (y0 + y1) / 2 - 0.04, H + 0.001),
                          (-D / 2, (y0 + y1) / 2 + 0.04, H + t), lidc))
        links.append(parts.lid(f"lid_{k}", shapes, D / 2 + 0.005, H + 0.001, rng.uniform(1.4, 2.0), y=(y0 + y1) / 2))
    return ObjectSpec("TrashCan", instance_id, tuple(links),
                      dict(round=round_, height=H, width=W, pedal=pedal, lids=len(spans)))


def kitchen_pot(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A round pot (two side handles) or saucepan (one long handle) with a lift-off lid and knob."""
    r, h = rng.uniform(0.08, 0.16), rng.uniform(0.07, 0.16)
    body = (METALS[pick(rng, ["steel", "black"])] if rng.random() < 0.6
            else parts.color(rng, ["red", "blue", "dark", "white"]))
    handlec = METALS["black"] if rng.random() < 0.6 else body
    shapes = [rod((0, 0, 0), (0, 0, h), r, body), rod((0, 0, h - 0.008), (0, 0, h), r + 0.006, body)]
    saucepan = rng.random() < 0.35
    if saucepan:
        L = rng.uniform(1.2, 1.8) * r
        shapes.append(rod((r * 0.9, 0, 0.8 * h), (r + L, 0, 0.95 * h), 0.012, handlec))
    else:
        for s in (-1, 1):
            shapes.append(box((-0.02, s * r, 0.75 * h), (0.02, s * (r + 0.035), 0.75 * h + 0.012), handlec))
    glass = rng.random() < 0.4
    lidc = (0.6, 0.7, 0.75, 1.0) if glass else body
    lt = rng.uniform(0.006, 0.015)
    knob_style = pick(rng, ["knob", "bar"])
    lid = [disk((0, 0, h + 0.001 + lt / 2), r + 0.008, lt, lidc)]
    if knob_style == "knob":
        lid.append(rod((0, 0, h + lt), (0, 0, h + lt + 0.025), 0.018, handlec))
    else:
        lid.append(box((-0.012, -0.035, h + lt), (0.012, 0.035, h + lt + 0.02), handlec))
    links = (LinkSpec("base", tuple(shapes), semantic="body"),
             parts.lift("lid", lid, (0, 0, h), rng.uniform(1.0, 1.5) * h))
    return ObjectSpec("KitchenPot", instance_id, links, dict(radius=r, height=h, saucepan=saucepan, glass=glass))


def bottle(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A round or square bottle with a shoulder and neck, closed by a pull-off cap or a flip-top."""
    r, h = rng.uniform(0.03, 0.06), rng.uniform(0.14, 0.3)
    square = rng.random() < 0.3
    body = parts.color(rng, ["green", "blue", "white", "red", "dark", "light_wood"])
    capc = parts.color(rng, ["white", "dark", "red", "blue"]) if rng.random() < 0.7 else METALS["steel"]
    shoulder = rng.uniform(0.05, 0.15) * h
    neck_r = rng.uniform(0.45, 0.8) * r
    neck_h = rng.uniform(0.01, 0.04)
    shapes = [box((-r, -r, 0), (r, r, h), body) if square else rod((0, 0, 0), (0, 0, h), r, body),
              rod((0, 0, h), (0, 0, h + shoulder), 0.5 * (r + neck_r), body),
              rod((0, 0, h + shoulder), (0, 0, h + shoulder + neck_h), neck_r, body)]
    top = h + shoulder + neck_h
    cap_r = neck_r + 0.004
    cap_h = rng.uniform(0.25, 0.4) * cap_r
    kind = "flip" if rng.random() < 0.35 else "cap"
    if kind == "cap":
        cap = parts.lift("cap", [rod((0, 0, top), (0, 0, top + cap_h), cap_r, capc),
                                 ball((0, 0, top + cap_h), cap_r, capc)], (0, 0, top),
                         rng.uniform(0.35, 0.5) * h, semantic="cap")
        links = (LinkSpec("base", tuple(shapes), semantic="body"), cap)
    else:
        shapes.append(rod((0, 0, top), (0, 0, top + 0.5 * cap_h), cap_r, capc))
        flip = [box((-cap_r, -cap_r, top + 0.5 * cap_h + 0.001), (cap_r, cap_r, top + cap_h), capc),
                box((-cap_r - 0.008, -0.3 * cap_r, top + 0.5 * cap_h), (-cap_r, 0.3 * cap_r, top + cap_h), capc)]
        links = (LinkSpec("base", tuple(shapes), semantic="body"),
                 parts.lid("flip_cap", flip, cap_r, top + 0.5 * cap_h + 0.001, rng.uniform(1.8, 2.6), semantic="cap"))
    return ObjectSpec("Bottle", instance_id, links, dict(radius=r, height=h, square=square, kind=kind))


def kettle(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """A round kettle (optionally on a base plate) with a handle at the back, a spout at the front
    and a lid that flips up on a back hinge or lifts off."""
    r, h = rng.uniform(0.07, 0.11), rng.uniform(0.12, 0.22)
    body = METALS["steel"] if rng.random() < 0.4 else parts.color(rng, ["white", "dark", "red", "blue", "green"])
    dark = METALS["black"]
    plate = rng.random() < 0.5
    z0 = 0.02 if plate else 0.0
    shapes = [rod((0, 0, z0), (0, 0, z0 + h), r, body),
              rod((0, 0, z0 + h), (0, 0, z0 + h + 0.015), 0.9 * r, body)]
    if plate:
        shapes.append(rod((0, 0, 0), (0, 0, 0.02), r + 0.015, dark))
    hc = dark if rng.random() < 0.6 else body
    shapes += [rod((r - 0.01, 0, z0 + 0.2 * h), (r + 0.05, 0, z0 + 0.25 * h), 0.012, hc),
               rod((r + 0.05, 0, z0 + 0.25 * h), (r + 0.05, 0, z0 + 0.85 * h), 0.012, hc),
               rod((r + 0.05, 0, z0 + 0.85 * h), (r - 0.01, 0, z0 + 0.9 * h), 0.012, hc)]
    spout = rng.uniform(0.04, 0.08)
    shapes.append(rod((-0.8 * r, 0, z0 + 0.4 * h), (-r - spout, 0, z0 + 0.75 * h), 0.014, body))
    top = z0 + h + 0.015
    lr = 0.78 * r
    lidshapes = [disk((0, 0, top + 0.006), lr, 0.012, body), ball((0, 0, top + 0.012), 0.5 * lr, body),
                 ball((0, 0, top + 0.012 + 0.5 * lr), 0.012, dark)]
    kind = "hinged" if rng.random() < 0.6 else "lift"
    lid = (parts.lid("lid", lidshapes, lr, top, rng.uniform(1.2, 1.8)) if kind == "hinged"
           else parts.lift("lid", lidshapes, (0, 0, top), rng.uniform(0.8, 1.2) * h))
    return ObjectSpec("Kettle", instance_id, (LinkSpec("base", tuple(shapes), semantic="body"), lid),
                      dict(radius=r, height=h, plate=plate, lid=kind))


def suitcase(instance_id: int, rng: np.random.Generator) -> ObjectSpec:
    """An upright trolley case with a telescoping handle, or a case lying flat with a hinged lid."""
    c = parts.color(rng, ["dark", "blue", "red", "green", "grey"])
    dark = METALS["black"]
    if rng.random() < 0.6:  # upright trolley
        W, D, H = rng.uniform(0.35, 0.5), rng.uniform(0.2, 0.3), rng.uniform(0.5, 0.75)
        shapes = [box((-D / 2, -W / 2, 0.04), (D / 2, W / 2, 0.04 + H), c),
                  box((-D / 2 - 0.01, -0.06, 0.04 + 0.6 * H), (-D / 2, 0.06, 0.04 + 0.63 * H), dark)]  # side grip
        for y in (-W / 2 + 0.04, W / 2 - 0.04):
            shapes.append(disk((D / 2 - 0.04, y, 0.02), 0.02, 0.02, dark, axis=(0, 1, 0)))
            shapes.append(disk((-D / 2 + 0.04, y, 0.02), 0.02, 0.02, dark, axis=(0, 1, 0)))
        top = 0.04 + H
        span = rng.uniform(0.5, 0.75) * W
        xr = D / 2 - 0.03
        handle = [rod((xr, -span / 2 - 0.012, top + 0.018), (xr, span / 2 + 0.012, top + 0.018), 0.016, dark),
                  rod((xr, -span / 2, top - 0.3 * H), (xr, -span / 2, top + 0.002), 0.008, METALS["steel"]),
                  rod((xr, span / 2, top - 0.3 * H), (xr, span / 2, top + 0.002), 0.008, METALS["steel"])]
        links = (LinkSpec("base", tuple(shapes), semantic="body"),
                 parts.lift("handle", handle, (xr, 0, top), rng.uniform(0.4, 0.6) * H, semantic="handle"))
        params = dict(kind="trolley", width=W, depth=D, height=H)
    else:  # lying flat, lid hinged at the back
        W, D, H = rng.uniform(0.45, 0.7), rng.uniform(0.32, 0.5), rng.uniform(0.12, 0.22)
        split = rng.uniform(0.45, 0.6) * H
        shapes = [box((-D / 2, -W / 2, 0), (D / 2, W / 2, split), c)]
        lid = [box((-D / 2, -W / 2, split + 0.002), (D / 2, W / 2, H), c),
               box((-D / 2 - 0.025, -0.07, H - 0.5 * (H - split)), (-D / 2, 0.07, H - 0.3 * (H - split)), dark)]
        links = (LinkSpec("base", tuple(shapes), semantic="body"),
                 parts.lid("lid", lid, D / 2, split + 0.002, rng.uniform(1.4, 2.0)))
        params = dict(kind="flat", width=W, depth=D, height=H)
    return ObjectSpec("Suitcase", instance_id, links, params)
