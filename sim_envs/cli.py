"""Command-line helpers about the simulator: category names and the environment, checked before
anything heavy loads; a bad value exits 2 with one line (infra.cli.die)."""
from __future__ import annotations

from infra.cli import ConfigError, check_choice, die, option

SPLITS = ("train", "test")
CATEGORIES_HELP = "'all', 'all-seen', 'all-unseen' or a comma-separated list of categories or aliases"


def categories_option(default: str = "all", help: str = CATEGORIES_HELP, flag: str | None = None):
    """The field of a CLI config that selects categories (sim_envs.categories names them)."""
    return option(default, help, flag=flag)


def split_option(default: str, help: str = "object instances: 'train' or 'test' (unseen categories: test only)",
                 cli: bool = True):
    return option(default, help, cli=cli)


def partnet_option(help: str = "a PartNet-Mobility directory to use instead of the procedural objects"):
    return option(None, help)


def check_split(config) -> None:
    check_choice(config, "split", SPLITS)


def check_partnet_dir(config) -> None:
    """ConfigError naming --partnet-dir unless it is a directory with at least one usable object folder."""
    if config.partnet_dir:
        from .partnet import index

        try:
            index(str(config.partnet_dir))
        except FileNotFoundError as e:
            raise ConfigError("partnet_dir", config.partnet_dir, str(e)) from None



def resolve_or_die(spec: str, many: bool = False):
    """The Task of a category name or alias (with `many`: the Tasks of 'all', 'all-seen',
    'all-unseen' or a comma-separated list); exit 2 with the allowed names otherwise. Cheap (no
    simulator import), so CLIs reject bad input before loading SAPIEN."""
    from .categories import UnknownCategoryError, resolve, resolve_many

    try:
        return (resolve_many if many else resolve)(spec)
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


def print_categories() -> None:
    from .categories import ALIASES, SEEN, UNSEEN

    print("seen (train and test instances):", ", ".join(SEEN))
    print("unseen (test instances only):  ", ", ".join(UNSEEN))
    print("aliases:", ", ".join(f"{a} = {v['category']}" + (f" ({v['joint_type']})" if v.get("joint_type") else "")
                                for a, v in sorted(ALIASES.items())))
    print("selections: all-seen, all-unseen, all, or a comma-separated list")
