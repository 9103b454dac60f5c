"""Small helpers shared by the command-line tools: one-line errors with exit code 2, atomic writes."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


def die(message: str, code: int = 2):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def resolve_or_die(name: str):
    """The Task for a category name or alias; exit 2 with the allowed names otherwise.
    Cheap (no simulator import), so CLIs reject bad input before loading SAPIEN."""
    from .categories import UnknownCategoryError, resolve

    try:
        return resolve(name)
    except UnknownCategoryError as e:
        die(str(e))


def resolve_many_or_die(spec: str, instances: int | None = None) -> list:
    """Tasks for 'all', 'all-seen', 'all-unseen' or a comma-separated list, after checking an
    optional --instances count; exit 2 with a one-line message otherwise."""
    from .categories import UnknownCategoryError, resolve_many

    if instances is not None and instances < 1:
        die(f"--instances {instances}: must be >= 1")
    try:
        return resolve_many(spec)
    except UnknownCategoryError as e:
        die(str(e))


def make_env_or_die(config, **reset_kwargs):
    """Build the environment (and, given reset_kwargs, reset it); exit 2 on bad config or input."""
    from . import make_env

    try:
        env = make_env(config)
        return (env, env.reset(**reset_kwargs)) if reset_kwargs else env
    except (ValueError, FileNotFoundError) as e:
        die(str(e))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a hidden temp path beside `path`; on success fsync it and rename it over `path`
    (readers see the old file or the new one, never a partial one); on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file in the same folder, then rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def check_output_dir(out, meta_name: str, fmt: str, identity: dict, what: str, error=ValueError,
                     ignore: tuple = ()) -> dict | None:
    """For a resumable CLI's --out: None if `out` is new or empty (names in `ignore` do not count),
    the JSON metadata file `meta_name` if it records the same `identity`; otherwise `error` with a
    one-line message (not a directory, foreign content, unreadable, wrong format, other settings)."""
    import json

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"--out {out}: exists and is not a directory")
    path = out / meta_name
    if not path.exists():
        if out.exists() and any(p.name not in ignore for p in out.iterdir()):
            raise error(f"--out {out}: directory is not empty and has no {meta_name}; give an empty or new directory")
        return None
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise error(f"{path}: unreadable ({e})") from None
    if meta.get("format") != fmt:
        raise error(f"{path}: format {meta.get('format')!r}, expected {fmt!r}")
    old = meta.get("identity", {})
    diff = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in identity.items() if old.get(k) != v]
    if diff:
        raise error(f"--out {out} holds {what} with other settings ({'; '.join(diff)}); "
                    f"rerun with those settings or use another --out")
    return meta
