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


def _rot(axis: int, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R if axis != 1 else R.T  # about y the sign of sin is the other way round


def test_euler_chain_round_trip():
    """The gripper's joints turn about x, then y, then z: R = Rx(a) Ry(b) Rz(c)."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        R = G.gram_schmidt(rng.normal(size=3), rng.normal(size=3))
        a, b, c = G.euler_xyz(R)
        assert np.allclose(_rot(0, a) @ _rot(1, b) @ _rot(2, c), R, atol=1e-9)


def test_quaternion_is_wxyz():
    a = 0.7
    q = G.quat_wxyz(_rot(2, a))
    assert np.allclose(q, [np.cos(a / 2), 0, 0, np.sin(a / 2)])
    x = G.axis_frame_quat([0, 1, 0])  # a frame whose x axis is world y: 90 degrees about z
    assert np.allclose(x, [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])


def test_pixel_lift_uses_the_pixel_centre_and_round_trips():
    K = np.array([[500.0, 0, 168], [0, 500.0, 168], [0, 0, 1]])
    p = G.lift_pixel(40, 300, 4.2, K)
    assert np.allclose(G.camera_to_pixel(p, K), [40.5, 300.5])  # the centre of pixel (40, 300)
    assert np.array_equal(np.floor(G.camera_to_pixel(p, K)).astype(int), [40, 300])
    depth = np.full((50, 320), 4.2)
    assert np.allclose(G.point_map(depth, K)[40, 300], p)  # the whole map lifts the same way
    assert np.allclose(G.lift_pixel(167.5, 167.5, 2.0, K), [0, 0, 2.0])  # the principal point


def test_camera_world_round_trip():
    rng = np.random.default_rng(2)
    T = np.eye(4)
    T[:3, :3] = G.gram_schmidt(rng.normal(size=3), rng.normal(size=3))
    T[:3, 3] = rng.normal(size=3)
    p = rng.normal(size=(5, 3))
    w = G.camera_to_world(T, p)
    assert np.allclose(w[0], G.camera_to_world(T, p[0]))  # one point and a batch agree
    assert np.allclose(G.world_to_camera(T, w), p)
    assert np.allclose(w[1], T[:3, :3] @ p[1] + T[:3, 3])


def test_forward_is_made_orthogonal_to_up():
    rng = np.random.default_rng(3)
    up = G.unit(rng.normal(size=3))
    for _ in range(20):
        f = G.random_forward(rng, up)
        assert abs(np.dot(f, up)) < 1e-12 and np.isclose(np.linalg.norm(f), 1.0)
    with pytest.raises(ValueError):
        G.orthonormal_forward(up, 3 * up)


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
