"""What part of the camera image a model sees, and how its predictions map back to the image.

- `image` (the default): the whole image, or its centre square keeping `crop` of each side;
- `object`: the square around the object, from the observation's object mask: centred on the mask's
  bounding box, its side the box's longer side plus `margin` of it on each side. The camera frames the
  object small (3% of the pixels, docs/training.md), so the whole image gives a vision encoder one or two
  patches of object; this view gives it the object at every patch, as a close camera would. Where the
  square reaches past the image, it is padded with black. A position the model predicts in the view is
  mapped back and moved to the nearest object pixel: the model only points at the object it was shown.

A view of an image is a box (top, left, height, width) in image pixels, which may reach past the image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEWS = ("image", "object")


def crop_box(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the centre square-ish crop that keeps `fraction` of each side."""
    h, w = max(1, round(fraction * height)), max(1, round(fraction * width))
    return (height - h) // 2, (width - w) // 2, h, w


def object_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """The object view's square for an (H, W) object mask (the whole image's square without an object)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        side = max(mask.shape)
        return (mask.shape[0] - side) // 2, (mask.shape[1] - side) // 2, side, side
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    side = max(8, int(round(max(r1 - r0, c1 - c0) * (1 + 2 * margin))))
    top, left = int(round((r0 + r1 - side) / 2)), int(round((c0 + c1 - side) / 2))
    return top, left, side, side


def cut(img: np.ndarray, box) -> np.ndarray:
    """The pixels of `img` (H, W, ...) inside `box`, zero where the box reaches past the image."""
    top, left, h, w = (int(v) for v in box)
    H, W = img.shape[:2]
    if top >= 0 and left >= 0 and top + h <= H and left + w <= W:
        return img[top: top + h, left: left + w]
    out = np.zeros((h, w, *img.shape[2:]), dtype=img.dtype)
    r0, r1, c0, c1 = max(0, top), min(H, top + h), max(0, left), min(W, left + w)
    if r0 < r1 and c0 < c1:
        out[r0 - top: r1 - top, c0 - left: c1 - left] = img[r0:r1, c0:c1]
    return out


@dataclass(frozen=True)
class View:
    kind: str = "image"
    crop: float = 1.0  # image view: the centre crop's share of each side
    margin: float = 0.15  # object view: the margin around the object's box, a share of its side

    def __post_init__(self):
        if self.kind not in VIEWS:
            raise ValueError(f"view={self.kind!r}: allowed: {', '.join(VIEWS)}")
        if not 0 < self.crop <= 1:
            raise ValueError(f"crop={self.crop!r}: must be in (0, 1]")
        if self.kind == "object" and self.crop != 1:
            raise ValueError(f"crop={self.crop!r}: the object view frames the object itself; crop must be 1")
        if not 0 <= self.margin <= 2:
            raise ValueError(f"object_margin={self.margin!r}: must be in [0, 2]")

    @property
    def needs_mask(self) -> bool:
        return self.kind == "object"

    def box(self, height: int, width: int, object_mask: np.ndarray | None = None) -> tuple[int, int, int, int]:
        if self.kind == "object":
            if object_mask is None:
                raise ValueError("the object view needs the observation's object_mask")
            return object_box(np.asarray(object_mask, dtype=bool), self.margin)
        return crop_box(height, width, self.crop)

    def box_of(self, obs: dict) -> tuple[int, int, int, int]:
        h, w = np.asarray(obs["rgb"]).shape[:2]
        return self.box(h, w, obs.get("object_mask") if self.needs_mask else None)

    def pixel(self, pos, box, height: int, width: int, object_mask: np.ndarray | None = None) -> tuple[int, int]:
        """A position in [0, 1]^2 of the view -> the (row, col) of the image pixel holding it: clamped to
        the view and the image, and in the object view moved to the nearest object pixel."""
        top, left, h, w = box
        r = top + min(h - 1, max(0, int(float(pos[0]) * h)))
        c = left + min(w - 1, max(0, int(float(pos[1]) * w)))
        r, c = min(height - 1, max(0, r)), min(width - 1, max(0, c))
        if self.kind == "object" and object_mask is not None and not object_mask[r, c]:
            pix = np.argwhere(object_mask)
            if len(pix):
                r, c = (int(v) for v in pix[np.argmin(((pix - (r, c)) ** 2).sum(1))])
        return r, c


def targets(pixels: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, 2) pixel centres ((row + 0.5), (col + 0.5)) in each box's [0, 1] frame (outside [0, 1] when
    the pixel lies outside its box)."""
    px = np.asarray(pixels, np.float32)
    b = np.asarray(boxes, np.float32)
    return (px + 0.5 - b[:, :2]) / b[:, 2:]
