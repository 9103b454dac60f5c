"""Memory stays flat over 1000 object swaps across every category (build into the scene, remove)."""
from sim_envs.categories import ALL, resolve


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def test_memory_and_entities_flat_over_1000_swaps(env):
    u = env.unwrapped
    env.reset(seed=0)
    # ManiSkill's public scene: its one SAPIEN sub-scene holds the episode's object and ours
    scene, src, c = u.scene.sub_scenes[0], u.source, u.cfg
    jobs = [(cat, i) for i in range(20) for cat in ALL]  # 600 distinct objects, then repeats
    obj = None
    rss, entities = [], []
    for k in range(1000):
        cat, pos = jobs[k % len(jobs)]
        inst = src.instances(resolve(cat), "test")[pos]
        if obj is not None:
            obj.remove(scene)
        obj = src.load(scene, cat, inst, 1.0, c.joint_damping, c.joint_friction)
        scene.step()
        if k % 100 == 99:
            rss.append(_rss_mib())
            entities.append(len(scene.get_entities()) - len(obj.links))  # everything but the object
    obj.remove(scene)
    env.reset(seed=0)  # the env swaps its own object out: the shared env stays usable
    assert len(set(entities)) == 1, entities
    # after the first 600 distinct objects are cached, nothing may keep growing
    assert rss[-1] - rss[5] < 16, rss
    assert rss[-1] - rss[0] < 64, rss
