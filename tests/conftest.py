import numpy as np
import pytest


@pytest.fixture(scope="session")
def env():
    """One environment for the session (the first render compiles shaders: ~10 s on lavapipe)."""
    from sim_envs import make_env
    from sim_envs.config import PullEnvConfig

    e = make_env(PullEnvConfig(task="StorageFurniture", split="test"))
    yield e
    e.close()


def expert(env, seed):
    return env.unwrapped.privileged().expert_action(np.random.default_rng(seed))
