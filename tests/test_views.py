"""What a model sees (agents.views): the centre crop and the object view, and predictions mapped back."""
from __future__ import annotations

import numpy as np
import pytest

from agents.views import View, crop_box, cut, object_box, targets


def test_the_object_view_is_the_square_around_the_mask_with_its_margin():
    mask = np.zeros((100, 120), bool)
    mask[20:40, 50:60] = True  # 20 rows x 10 cols: the square's side is 20 * (1 + 2 * 0.25) = 30, centred
    assert object_box(mask, 0.25) == (15, 40, 30, 30)
    assert object_box(mask, 0.0) == (20, 45, 20, 20)
    assert object_box(np.zeros((100, 120), bool), 0.1) == (-10, 0, 120, 120)  # no object: the whole image, square
    view = View("object", margin=0.25)
    assert view.box(100, 120, mask) == (15, 40, 30, 30) and view.needs_mask
    with pytest.raises(ValueError, match="object_mask"):
        view.box(100, 120)
    assert View().box(336, 336) == crop_box(336, 336, 1.0) == (0, 0, 336, 336) and not View().needs_mask
    with pytest.raises(ValueError, match="view='side'"):
        View("side")
    with pytest.raises(ValueError, match="crop must be 1"):
        View("object", crop=0.5)


def test_a_view_past_the_image_is_padded_and_predictions_come_back_on_the_object():
    img = np.arange(10 * 10 * 3, dtype=np.uint8).reshape(10, 10, 3) + 1
    out = cut(img, (-2, 7, 4, 4))  # two rows above the image, one column past its right edge
    assert out.shape == (4, 4, 3) and (out[:2] == 0).all() and (out[:, 3] == 0).all()
    assert np.array_equal(out[2:, :3], img[0:2, 7:10])
    assert cut(img, (0, 0, 10, 10)) is not None and np.array_equal(cut(img, (0, 0, 10, 10)), img)
    # a contact pixel into the box's [0, 1] and back
    box = (20, 40, 30, 30)
    t = targets(np.array([[35, 55]]), np.array([box]))
    assert t[0] == pytest.approx(((35 + 0.5 - 20) / 30, (55 + 0.5 - 40) / 30))
    mask = np.zeros((100, 120), bool)
    mask[30:40, 50:60] = True
    view = View("object")
    assert view.pixel(t[0], box, 100, 120, mask) == (35, 55)
    assert view.pixel((0.0, 0.0), box, 100, 120, mask) == (30, 50)  # off the object: its nearest pixel
    assert View().pixel((0.0, 0.0), box, 100, 120, mask) == (20, 40)  # the image view does not move it
    assert view.pixel((-1.0, 2.0), (-10, 100, 30, 30), 100, 120, None) == (0, 119)  # clamped to the image
