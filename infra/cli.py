"""One command-line style for every tool: a configuration dataclass whose fields carry their help
text becomes the parser's flags, and a bad value becomes one line naming the flag, exit code 2.

    @dataclass
    class Config:
        samples: int = option(500, "successful demos per category")
        categories: str = option("drawer", "a category or alias", flag="--category")

        def __post_init__(self):
            check_at_least(self, samples=1)          # ConfigError('samples', 0, 'must be ...')

    cfg, args = parse_config(Config, argv, "python -m x", __doc__)
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing


def die(message: str, code: int = 2):
    """Print `error: message` to stderr and exit with `code` (2: bad input)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def done(message: str) -> int:
    """Say what a command made (stdout) and give its exit code, 0."""
    print(message)
    return 0


def option(default, help: str, *, flag: str | None = None, choices=None, cli: bool = True):
    """A dataclass field that is also a flag (`--field-name`, or `flag`) with this help text;
    `cli=False` keeps it out of the command line (set by code only)."""
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag, "choices": choices,
                                                        "cli": cli})


class ConfigBase:
    """What every job configuration offers: `to_dict()`, and `identity()`, the fields named in the
    class's IDENTITY (the settings that change what the job produces)."""

    IDENTITY: tuple = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """As stored in JSON (tuples as lists), so a record read back compares equal."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in self.IDENTITY)}


class ConfigError(ValueError):
    """A bad setting: `field` (a dataclass field), its value and why; the CLI names the flag."""

    def __init__(self, field: str, value, reason: str):
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}={value!r}: {reason}")


def check_at_least(config, **minimums) -> None:
    """ConfigError unless each named field is an integer (not a bool) >= its minimum (for a list
    field: each of its values)."""
    for name, lo in minimums.items():
        value = getattr(config, name)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(name, v, f"must be an integer >= {lo}")


def check_choice(config, name: str, allowed) -> None:
    v = getattr(config, name)
    if v not in allowed:
        raise ConfigError(name, v, f"allowed: {', '.join(map(str, allowed))}")


def check_subset(config, name: str, allowed, required: tuple = ()) -> None:
    """A comma-separated field (or a tuple) becomes a tuple; ConfigError unless it is non-empty, each item is one of
    `allowed` and it holds every `required` item."""
    v = getattr(config, name)
    if isinstance(v, str):
        v = tuple(x for x in v.split(",") if x)
        setattr(config, name, v)
    if not v or any(x not in allowed for x in v) or any(r not in v for r in required):
        need = f", {' and '.join(required)} included" if required else ""
        raise ConfigError(name, ",".join(v), f"allowed: {', '.join(allowed)} (comma-separated{need})")


def check_positive(config, *names) -> None:
    for name in names:
        v = getattr(config, name)
        if not v > 0:
            raise ConfigError(name, v, "must be > 0")


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad command line answered in one line (no usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def command_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """An ArgumentParser that prints the module docstring as written and bad flags in one line."""
    return _Parser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def flag_of(cls, name: str) -> str:
    """The command-line flag of field `name` of dataclass `cls`."""
    f = {f.name: f for f in dataclasses.fields(cls)}.get(name)
    return (f.metadata.get("flag") if f is not None else None) or "--" + name.replace("_", "-")


def _show(default) -> str:
    if isinstance(default, (tuple, list)):
        return ",".join(map(str, default)) if default else "none"
    return str(default)


def _list_type(hint):
    """The item type of a `tuple[X, ...]` field (a flag taking one or more values), else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _scalar_type(hint):
    """int / float / str for a field annotation (Optional[X] -> X; anything else: str)."""
    import types

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    return hint if hint in (int, float) else str


def add_flags(parser: argparse.ArgumentParser, cls, defaults: dict | None = None) -> None:
    """One flag per field of dataclass `cls` made with `option()`: its type from the annotation
    (bool fields get --x / --no-x), its help text with the default."""
    hints = typing.get_type_hints(cls)
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata or not f.metadata["cli"]:
            continue
        flag = flag_of(cls, f.name)
        default = defaults.get(f.name, f.default if f.default is not dataclasses.MISSING else f.default_factory())
        text = f"{f.metadata['help']} (default: {_show(default)})"
        if hints[f.name] is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=text)
        elif _list_type(hints[f.name]) is not None:
            parser.add_argument(flag, dest=f.name, type=_list_type(hints[f.name]), nargs="+", default=default,
                                help=text, metavar=flag[2:].upper().replace("-", "_"))
        else:
            parser.add_argument(flag, dest=f.name, type=_scalar_type(hints[f.name]), default=default,
                                choices=f.metadata["choices"], help=text, metavar=flag[2:].upper().replace("-", "_"))


def run_job(job, out: str, kept: str, refused: type = ValueError):
    """`job()`'s result for a resumable command writing to `out`, or its exit: a refusal (an
    exception of type `refused`) exits 2 with its message; a worker that keeps dying exits 1; Ctrl-C
    says that the finished `kept` stay in `out` and exits 130."""
    from .workers import WorkerDied

    try:
        return job()
    except refused as e:
        die(str(e))
    except WorkerDied as e:
        die(str(e), code=1)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished {kept} are kept in {out}; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None


def build(cls, values: dict):
    """`cls(**values)`; a ConfigError exits 2 naming the flag (`--samples 0: must be ...`), another
    ValueError exits 2 with its message."""
    try:
        return cls(**values)
    except ConfigError as e:
        die(f"{flag_of(cls, e.field)} {e.value}: {e.reason}")
    except ValueError as e:
        die(str(e))


def parse_config(cls, argv=None, prog: str | None = None, doc: str | None = None,
                 parser: argparse.ArgumentParser | None = None, defaults: dict | None = None):
    """(config, namespace): `cls`'s flags added to `parser` (default: a new one for `prog` with
    `doc` as its description; it may hold other flags), parsed and checked; a bad value exits 2
    with one line naming the flag."""
    parser = parser or command_parser(prog, doc)
    add_flags(parser, cls, defaults)
    args = parser.parse_args(argv)
    names = {f.name for f in dataclasses.fields(cls) if "help" in f.metadata and f.metadata["cli"]}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(args).items() if k in names}
    return build(cls, values), args
