"""A torch Dataset over a collected demo directory (kept apart so collection never imports torch)."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .dataset import decode_sample, load_frame


class DemoDataset(Dataset):
    """One sample per item; PNGs are decoded lazily.

    Item: `rgb` uint8 (3, H, W), `depth` float32 (H, W) metres, `object_mask` / `target_mask` bool
    (H, W), `pixel` float32 (2,) (row, col), `up` / `forward` float32 (3,) in the camera frame,
    `rotation` float32 (3, 3) = columns [forward, up x forward, up], `intrinsics` (3, 3),
    `cam2world` (4, 4), the strings `prompt`, `category`, `task`, `sample_id`, and the flags
    `success` / `demo_success`. The default collate batches it as it is.
    """

    def __init__(self, root, successes_only: bool = True, tasks: list[str] | None = None):
        self.root = str(root)
        df = load_frame(root, successes_only=successes_only)
        if tasks is not None:
            df = df[df["task"].isin(tasks)].reset_index(drop=True)
        self.frame = df

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, i: int) -> dict:
        row = self.frame.iloc[int(i)]
        s = decode_sample(row)
        out = {k: torch.from_numpy(s[k]) for k in ("depth", "object_mask", "target_mask", "pixel", "up",
                                                   "forward", "rotation", "intrinsics", "cam2world")}
        out["rgb"] = torch.from_numpy(s["rgb"]).permute(2, 0, 1).contiguous()
        for k in ("prompt", "category", "task", "sample_id"):
            out[k] = str(row[k])
        out["success"] = bool(row["success"])
        out["demo_success"] = bool(row["demo_success"])
        return out


def load_dataset(root, successes_only: bool = True, tasks: list[str] | None = None) -> DemoDataset:
    """The torch Dataset of a collected directory (successful demos only by default)."""
    return DemoDataset(root, successes_only=successes_only, tasks=tasks)
