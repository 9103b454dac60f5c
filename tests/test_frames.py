"""agents.frames: the surface frame estimated from a depth image, and rotations back to the camera frame."""
import numpy as np
import pytest

from agents.frames import FRAMES, frame_keys, surface_basis, surface_normal, to_camera

K = np.array([[300.0, 0, 168], [0, 300.0, 168], [0, 0, 1]])


def plane_depth(normal, offset=-1.0, size=336):
    """The depth image of the plane normal . p = offset (camera frame) seen through K."""
    rows, cols = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    rays = np.stack([(cols - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(cols)], -1)
    return offset / (rays @ normal)


@pytest.mark.parametrize("normal", [(0.0, 0.0, -1.0), (0.3, -0.2, -1.0), (-0.7, 0.1, -0.6)])
def test_the_normal_of_a_plane_is_found_facing_the_camera(normal):
    n = np.asarray(normal) / np.linalg.norm(normal)
    depth = plane_depth(n)
    for row, col in [(100, 200), (168, 168), (300, 40)]:
        est = surface_normal(depth, K, row, col)
        assert est is not None and np.allclose(est, n, atol=1e-6)
        S = surface_basis(depth, K, row, col)
        assert np.allclose(S.T @ S, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(S), 1.0)
        assert np.allclose(S[:, 2], -n, atol=1e-6)  # z into the surface: where a demo's up points


def test_a_step_in_depth_does_not_tilt_the_normal_and_no_surface_falls_back_to_the_line_of_sight():
    n = np.array([0.0, 0.0, -1.0])
    depth = plane_depth(n)
    depth[:, 172:] = 2.5  # a wall far behind, 4 pixels right of the contact pixel
    assert np.allclose(surface_normal(depth, K, 150, 168), n, atol=1e-9)
    empty = np.zeros((336, 336))
    assert surface_normal(empty, K, 150, 168) is None
    z = surface_basis(empty, K, 150, 200)[:, 2]
    ray = np.array([(200.5 - 168) / 300, (150.5 - 168) / 300, 1.0])
    assert np.allclose(z, ray / np.linalg.norm(ray))


def test_rotations_come_back_to_the_camera_frame():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    R = q * np.sign(np.linalg.det(q))
    c2w = np.eye(4)
    c2w[:3, :3] = R.T
    obs = {"cam2world": c2w, "depth": plane_depth(np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])),
           "intrinsics": K}
    assert np.allclose(to_camera("camera", R, obs), R)
    assert np.allclose(to_camera("world", R, obs), R @ R)  # cam2world's rotation R.T, transposed back
    S = surface_basis(obs["depth"], K, 10, 20)
    assert np.allclose(to_camera("surface", np.eye(3), obs, (10, 20)), S)
    assert set(FRAMES) == {"camera", "world", "surface"} and frame_keys("surface") == ("depth", "intrinsics")
    with pytest.raises(ValueError, match="allowed: camera, world, surface"):
        to_camera("body", R, obs)
