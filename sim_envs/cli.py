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
