"""`--record N`: what the agent saw and what it chose, for the first N episodes of the list.

The environment returns only the observation before the action (the pull is one open-loop step), so
a recording is a 2-frame GIF (`record/<index>_<task>_<episode>.gif`, 1 s per frame): the RGB image
as the agent got it, then the same image annotated with the predicted contact pixel (circle), the
approach direction `up` (red arrow: from where the gripper comes, 0.3 m back along -up, to the
contact point, projected with the intrinsics) and the gripper's `forward` axis (blue), with the
outcome written underneath (success, |dq|, failure reason). A PNG of the annotated frame sits next
to it for viewers that do not animate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_envs.config import ACTION_DIM
from sim_envs.geometry import camera_to_pixel, lift_pixel

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
        ok, reason = bool(outcome.get("success")), outcome.get("failure_reason") or ""
        text = (f"{outcome.get('task', '')} #{outcome.get('episode', '')}: {'SUCCESS' if ok else 'failure'} "
                f"|dq|={abs(float(outcome.get('dq') or 0.0)):.3f}" + (f" ({reason[:40]})" if reason else ""))
        colour = (0, 120, 0) if ok else (180, 0, 0)
    d.text((4, h * scale + 10), text, fill=colour)
    return canvas


def save_record(folder, item, obs: dict, action, outcome: dict) -> Path:
    """Write the 2-frame GIF and the annotated PNG of one episode; returns the GIF path."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{item.index:05d}_{item.task}_{item.episode:03d}"
    annotated = annotate(obs, action, outcome)
    plain = annotate(obs, None, None)
    gif = folder / f"{stem}.gif"
    plain.save(gif, save_all=True, append_images=[annotated], duration=1000, loop=0)
    annotated.save(folder / f"{stem}.png")
    return gif
