import numpy as np
import pytest

from sim_envs import geometry as G


def test_gram_schmidt_gives_proper_rotation_with_up_as_z():
    rng = np.random.default_rng(0)
    for _ in range(50):
        up, fw = rng.normal(size=3), rng.normal(size=3)
        R = G.gram_schmidt(up, fw)
        assert np.allclose(R.T @ R, np.eye(3), atol=1e-9)
        assert np.isclose(np.linalg.det(R), 1.0)
        assert np.allclose(R[:, 2], up / np.linalg.norm(up))
        assert np.dot(R[:, 0], fw) > 0


@pytest.mark.parametrize("up,fw", [((0, 0, 0), (1, 0, 0)), ((0, 0, 1), (0, 0, 2)), ((np.nan, 0, 1), (1, 0, 0))])
def test_gram_schmidt_rejects_degenerate(up, fw):
    with pytest.raises(ValueError):
        G.gram_schmidt(up, fw)


def test_euler_chain_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(50):
        R = G.gram_schmidt(rng.normal(size=3), rng.normal(size=3))
        a, b, c = G.euler_xyz_from_matrix(R)
        assert np.allclose(G.rot_x(a) @ G.rot_y(b) @ G.rot_z(c), R, atol=1e-9)


def test_pixel_lift_and_projection_round_trip():
    K = np.array([[500.0, 0, 168], [0, 500.0, 168], [0, 0, 1]])
    p = G.pixel_to_camera(40.0, 300.0, 4.2, K)
    assert np.allclose(G.camera_to_pixel(p, K), [40.0, 300.0])


def test_normals_of_a_plane_face_the_camera():
    H = W = 20
    rows, cols = np.mgrid[0:H, 0:W].astype(float)
    # plane z = 3 + 0.1 x (tilted), sampled through the pinhole
    z = 3.0 / (1 - 0.1 * (cols - 10) / 30)
    pts = np.stack([(cols - 10) / 30 * z, (rows - 10) / 30 * z, z], -1)
    n = G.normals_from_points(pts, np.ones((H, W), bool))
    expected = G.normalize(np.array([0.1, 0, -1.0]))
    assert np.allclose(n[5:15, 5:15], expected, atol=1e-3)
    assert np.all(n[0] == 0)  # border pixels lack neighbours
