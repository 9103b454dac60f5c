"""Which observation entry travels under which name, for the protocols whose observations are open maps
(openpi's flat map, vla-eval's payload).

A key map is {wire name: observation entry}, written on the command line as `WIRE=ENTRY,WIRE=ENTRY`
(for example `observation/image=rgb,prompt=prompt`). A dot in a wire name nests maps: vla-eval's images
travel as `images.rgb=rgb`, i.e. {"images": {"rgb": ...}}; a slash is part of the name (openpi's
`observation/image` is one flat key). Entries are those of sim_envs.config.AGENT_OBS_KEYS. Each protocol
has a documented default (DEFAULTS); this project's own protocol names entries directly and takes no map.
"""
from __future__ import annotations

from sim_envs.config import AGENT_OBS_KEYS

from .codec import ProtocolError

PROTOCOLS = ("robomamba", "openpi", "vla-eval")

_RENAMED = {
    # openpi's examples use flat "observation/..." keys and "prompt" (LIBERO: observation/image, ...)
    "openpi": {"rgb": "observation/image", "prompt": "prompt", "category": "category"},
    # vla-eval's convention: camera images under "images", the instruction as "task_description"
    "vla-eval": {"rgb": "images.rgb", "prompt": "task_description"},
}
_PREFIX = {"openpi": "observation/", "vla-eval": ""}
DEFAULTS: dict[str, dict[str, str]] = {
    p: {renamed.get(k, _PREFIX[p] + k): k for k in AGENT_OBS_KEYS} for p, renamed in _RENAMED.items()}


def parse(text: str | None, protocol: str) -> dict[str, str]:
    """The key map of `--policy-keys`/`--keys` TEXT for `protocol` (its default when TEXT is None);
    ValueError naming the bad part."""
    if text is None:
        return dict(DEFAULTS.get(protocol, {}))
    if protocol not in DEFAULTS:
        raise ValueError(f"the {protocol} protocol names observation entries itself and takes no key map; "
                         f"key maps are for {', '.join(DEFAULTS)}")
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        wire, sep, entry = (s.strip() for s in part.partition("="))
        if not sep or not wire or any(not s for s in wire.split(".")):
            raise ValueError(f"{part!r} is not WIRE=ENTRY (e.g. observation/image=rgb)")
        if entry not in AGENT_OBS_KEYS:
            raise ValueError(f"{part!r}: unknown entry {entry!r}; allowed: {', '.join(AGENT_OBS_KEYS)}")
        if wire in out or entry in out.values():
            raise ValueError(f"{part!r}: {wire!r} or {entry!r} is mapped twice")
        out[wire] = entry
    if not out:
        raise ValueError(f"{text!r} maps no entry")
    return out


def text(keymap: dict[str, str]) -> str:
    """The command-line form of a key map (run.json records it)."""
    return ",".join(f"{w}={e}" for w, e in keymap.items())


def restrict(keymap: dict[str, str], wanted) -> dict[str, str]:
    """The part of `keymap` whose wire names are in `wanted` (a server's list), or all of it."""
    if not isinstance(wanted, (list, tuple)) or not wanted:
        return dict(keymap)
    return {w: e for w, e in keymap.items() if w in wanted}


def to_wire(observation: dict, keymap: dict[str, str]) -> dict:
    """The map that carries `observation`'s mapped entries under their wire names."""
    out: dict = {}
    for wire, entry in keymap.items():
        *parents, leaf = wire.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = observation[entry]
    return out


def from_wire(message: dict, keymap: dict[str, str], needed) -> dict:
    """The observation entries `needed` read from `message` through `keymap`; ProtocolError naming the
    wire names that are missing (or unmapped entries)."""
    by_entry = {e: w for w, e in keymap.items()}
    unmapped = [e for e in needed if e not in by_entry]
    if unmapped:
        raise ProtocolError(f"the key map gives no wire name for {', '.join(unmapped)}")
    out, missing = {}, []
    for entry in needed:
        node = message
        for part in by_entry[entry].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(by_entry[entry])
        else:
            out[entry] = node
    if missing:
        raise ProtocolError(f"the observation lacks {', '.join(repr(m) for m in missing)}")
    return out
