"""Rollout recordings: what the agent saw, what it chose and what the pull did (evaluation.run
--record N, sim_envs.snapshot --record N).

A recording is a video (evaluation: `record/<index>_<task>_<episode>.mp4`; H.264 through
imageio-ffmpeg, a GIF where no encoder is installed): first, for one second, the RGB image the agent
got, annotated with the predicted contact pixel (circle), the approach direction `up` (red arrow:
from where the gripper comes, 0.3 m back along -up, to the contact point, projected with the
intrinsics) and the gripper's `forward` axis (blue); then the whole primitive (approach, attach,
pull, hold) rendered from the same camera every RECORD_EVERY physics steps, each frame captioned
with its phase; the last frame shows the outcome (success, |dq|, failure reason). The annotated
still is also saved as a PNG.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ACTION_DIM
from .geometry import camera_to_pixel, lift_pixel

RECORD_EVERY = 4  # physics steps between two rollout frames (200 Hz: 50 frames per simulated second)


class FrameRecorder:
    """Frames of a rollout, rendered from the scene's camera while the primitive runs: one at each
    `capture(phase)`, and one every `every` physics steps (`tick`); off (no rendering) with every = 0."""

    def __init__(self, scene=None, camera=None):
        self.scene, self.camera = scene, camera
        self.every = 0
        self.frames: list = []  # (phase, RGB uint8 array)

    def attach(self, scene, camera) -> None:
        """Film this scene through this camera from now on (a rebuilt scene keeps the settings)."""
        self.scene, self.camera = scene, camera

    def start(self, every: int) -> None:
        """Film the next pull, a frame every `every` physics steps (0 = off); forget earlier frames."""
        self.every = int(every)
        self.frames = []

    def tick(self, step: int, phase: str) -> None:
        if self.every and step % self.every == 0:
            self.capture(phase)

    def capture(self, phase: str) -> None:
        if not self.every:
            return
        self.scene.update_render()
        self.camera.take_picture()
        rgb = np.asarray(self.camera.get_picture("Color"))[..., :3]
        if rgb.dtype != np.uint8:
            rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        self.frames.append((phase, np.ascontiguousarray(rgb)))
VIDEO_FPS = 25  # the video plays at half the simulated speed
APPROACH_LENGTH = 0.3  # metres drawn back along -up
FORWARD_LENGTH = 0.12


def _project(K: np.ndarray, p: np.ndarray) -> tuple[float, float] | None:
    """(x, y) image coordinates (PIL: col, row) of a camera-frame point in front of the camera."""
    if p[2] <= 1e-6:
        return None
    row, col = camera_to_pixel(p, K)
    return float(col), float(row)


def _arrow(d, a, b, colour, width: int) -> None:
    """A line from a to b with a triangular head at b."""
    d.line([a, b], fill=colour, width=width)
    v = np.subtract(b, a)
    n = float(np.linalg.norm(v))
    if n < 1e-6:
        return
    v /= n
    o = np.array([-v[1], v[0]])
    head = 4 + 2 * width
    d.polygon([tuple(b), tuple(np.subtract(b, head * v) + 0.5 * head * o),
               tuple(np.subtract(b, head * v) - 0.5 * head * o)], fill=colour)


def annotate(obs: dict, action, outcome: dict | None, scale: int | None = None):
    """The annotated frame (PIL image, upscaled `scale` times (default: to about 500 px), with a
    caption band: the outcome, or the prompt when `outcome` is None)."""
    from PIL import Image, ImageDraw

    rgb = np.asarray(obs["rgb"])
    h, w = rgb.shape[:2]
    scale = scale or max(1, round(500 / w))
    img = Image.fromarray(rgb).resize((w * scale, h * scale), Image.NEAREST)
    canvas = Image.new("RGB", (w * scale, h * scale + 34), (255, 255, 255))
    canvas.paste(img, (0, 0))
    d = ImageDraw.Draw(canvas)
    a = None if action is None else np.asarray(action, dtype=np.float64)
    if a is not None and a.shape == (ACTION_DIM,) and np.all(np.isfinite(a)):
        r, c = int(round(a[0])), int(round(a[1]))
        K = np.asarray(obs["intrinsics"], dtype=np.float64)
        z = float(obs["depth"][r, c]) if 0 <= r < h and 0 <= c < w else 0.0
        x, y = (c + 0.5) * scale, (r + 0.5) * scale
        if z > 0:  # 3D arrows need the point: lift the pixel with the depth map
            p = lift_pixel(r, c, z, K)
            up = a[2:5] / (np.linalg.norm(a[2:5]) or 1.0)
            fw = a[5:8] / (np.linalg.norm(a[5:8]) or 1.0)
            start = _project(K, p - APPROACH_LENGTH * up)  # the gripper comes from there ...
            if start is not None:  # ... to the contact point
                _arrow(d, (start[0] * scale, start[1] * scale), (x, y), (230, 30, 30), 3)
            tip = _project(K, p + FORWARD_LENGTH * fw)
            if tip is not None:
                _arrow(d, (x, y), (tip[0] * scale, tip[1] * scale), (30, 90, 230), 2)
        d.ellipse([x - 6, y - 6, x + 6, y + 6], outline=(255, 230, 0), width=3)
    if outcome is None:  # the plain frame: what the agent was asked
        text, colour = str(obs.get("prompt", "")), (0, 0, 0)
    else:
        text, colour = outcome_text(outcome)
    d.text((4, h * scale + 10), text, fill=colour)
    return canvas


def caption(rgb, text: str, colour=(0, 0, 0), scale: int | None = None):
    """A frame (PIL image) with `text` in a band underneath, the same size as annotate()'s."""
    from PIL import Image, ImageDraw

    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    scale = scale or max(1, round(500 / w))
    canvas = Image.new("RGB", (w * scale, h * scale + 34), (255, 255, 255))
    canvas.paste(Image.fromarray(rgb).resize((w * scale, h * scale), Image.NEAREST), (0, 0))
    ImageDraw.Draw(canvas).text((4, h * scale + 10), text, fill=colour)
    return canvas


def outcome_text(outcome: dict) -> tuple[str, tuple]:
    ok, reason = bool(outcome.get("success")), outcome.get("failure_reason") or ""
    text = (f"{outcome.get('task', '')} #{outcome.get('episode', '')}: {'SUCCESS' if ok else 'failure'} "
            f"|dq|={abs(float(outcome.get('dq') or 0.0)):.3f}" + (f" ({reason[:48]})" if reason else ""))
    return text, ((0, 120, 0) if ok else (180, 0, 0))


def rollout_frames(obs: dict, action, outcome: dict, frames) -> list:
    """The video's frames (PIL images): the annotated observation held for one second, then each
    (phase, rgb) rollout frame captioned with its phase, the last one with the outcome."""
    first = annotate(obs, action, outcome)
    out = [first] * VIDEO_FPS
    frames = list(frames or [])
    for k, (phase, rgb) in enumerate(frames):
        if k == len(frames) - 1:
            text, colour = outcome_text(outcome)
        else:
            text, colour = f"{phase}  (physics step {k * RECORD_EVERY})", (0, 0, 0)
        out.append(caption(rgb, text, colour))
    return out + [out[-1]] * (VIDEO_FPS // 2)


def write_video(path: Path, images: list) -> Path:
    """`images` as an MP4 at VIDEO_FPS (imageio-ffmpeg), or as a GIF next to it when no encoder is
    installed; returns the file written. The write is atomic."""
    import os

    arrays = [np.asarray(im.convert("RGB")) for im in images]
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the encoder; without it, fall back to a GIF)

        tmp = path.with_name(path.stem + ".tmp.mp4")
        imageio.mimwrite(tmp, arrays, fps=VIDEO_FPS, codec="libx264", quality=7, macro_block_size=2)
    except ImportError:
        path = path.with_suffix(".gif")
        tmp = path.with_name(path.stem + ".tmp.gif")
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / VIDEO_FPS), loop=0)
    os.replace(tmp, path)
    return path


def save_rollout(stem, obs: dict, action, outcome: dict, frames=None) -> Path:
    """Write `stem`.png (the annotated observation) and the rollout video `stem`.mp4 (or .gif);
    returns the video's path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    annotate(obs, action, outcome).save(stem.with_name(stem.name + ".png"))
    return write_video(stem.with_name(stem.name + ".mp4"), rollout_frames(obs, action, outcome, frames))


def filmed_step(env, action, film: bool = True) -> tuple[dict, list]:
    """(info, frames): step `env` with `action`, rendering a frame every RECORD_EVERY physics steps
    when `film` (frames empty otherwise)."""
    u = env.unwrapped
    u.record_frames(RECORD_EVERY if film else 0)
    try:
        info = env.step(action)[4]
        return info, u.frames
    finally:
        u.record_frames(0)
