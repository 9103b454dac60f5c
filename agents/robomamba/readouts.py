"""Where the image is lost: linear read-outs of the object's category and of the contact pixel from each
stage of a trained RoboMamba (or Transformer twin), with the category word of the prompt blinded.

Stages (agents.robomamba.model):
- `vision`: the vision encoder's image tokens;
- `projector`: the projector's output for them (the language model's image embeddings);
- `lm_image`: the language model's last hidden states at the image positions;
- `lm_text`: its last hidden states at the prompt's positions, averaged;
- `pooled`: the pooled token the MLP heads read.
Token stages are read whole (every token's features side by side), so a read-out can use where a
feature is; `lm_text` and `pooled` are one vector per sample.

A read-out is ridge regression on the standardised features (closed form, in the samples' dual when
features outnumber samples), its strength picked on a fifth of the training instances: the category as a
one-hot target (the argmax is the answer), the contact pixel as (row, col) in the model's view. Fit on
the training instances, scored on the held-out instances of the seen categories (the trainer's split)
and, for the pixel, on a dataset of unseen categories collected for probing only; beside each number its
floor: chance and the majority class for the category, the training mean for the pixel. The `grey`
rows repeat everything with the images turned to greyscale, so a category read from colour alone shows.
"""
from __future__ import annotations

import numpy as np

STAGES = ("vision", "projector", "lm_image", "lm_text", "pooled")
STRENGTHS = (1e-2, 1e-1, 1.0, 10.0, 100.0)  # ridge strengths, times the features' mean squared norm / samples


def greyscale(rgb: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> the same shape, every channel the ITU-R 601 luma."""
    luma = (rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round()
    return np.repeat(luma.clip(0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def stage_features(model, tokenizer, rgb: np.ndarray, prompts: list[str], batch: int = 32) -> dict[str, np.ndarray]:
    """{stage: (N, features) float32} for images `rgb` (N, S, S, 3) uint8 with `prompts`."""
    import torch

    from .heads import pool
    from .text import encode_batch
    from .train import images_tensor

    parts: dict[str, list] = {s: [] for s in STAGES}
    model.eval()
    with torch.no_grad():
        for s in range(0, len(rgb), batch):
            ids, text_mask = encode_batch(tokenizer, prompts[s: s + batch], model.cfg.max_text_tokens)
            vis = model.image_features(images_tensor(model, rgb[s: s + batch]))
            n = vis.shape[1]
            embeds = model.embed(vis, ids)
            mask = torch.cat([torch.ones(vis.shape[:2], dtype=text_mask.dtype), text_mask], dim=1)
            hidden = model.hidden_states(embeds, mask)
            parts["vision"].append(vis.flatten(1))
            parts["projector"].append(embeds[:, :n].flatten(1))
            parts["lm_image"].append(hidden[:, :n].flatten(1))
            parts["lm_text"].append(pool(hidden[:, n:], text_mask))
            parts["pooled"].append(pool(hidden, mask))
    return {k: torch.cat(v).float().numpy() for k, v in parts.items()}


class Ridge:
    """Ridge regression on standardised features, solved in the dual (N x N) when features outnumber samples."""

    def __init__(self, strength: float):
        self.strength = strength

    def fit(self, x: np.ndarray, y: np.ndarray) -> Ridge:
        x = x.astype(np.float64)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean) / self.std
        self.y_mean = y.mean(0)
        yc = y - self.y_mean
        lam = self.strength * max(1.0, float((z ** 2).sum(1).mean()))  # features that never vary add nothing
        if z.shape[1] > z.shape[0]:
            alpha = np.linalg.solve(z @ z.T + lam * np.eye(len(z)), yc)
            self.w = z.T @ alpha
        else:
            self.w = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ yc)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float64) - self.mean) / self.std) @ self.w + self.y_mean


def fit_readout(x: np.ndarray, y: np.ndarray, score, groups: np.ndarray) -> Ridge:
    """The ridge read-out whose strength scores best (`score(y_true, y_pred)`, lower is better) on the
    instances of one fifth of the training groups, refitted on all of them."""
    names = np.unique(groups)
    inner = np.isin(groups, names[np.random.default_rng(0).permutation(len(names))[: max(1, len(names) // 5)]])
    if inner.all() or not inner.any():
        inner = np.arange(len(x)) % 5 == 0
    best = min(STRENGTHS, key=lambda a: score(y[inner], Ridge(a).fit(x[~inner], y[~inner]).predict(x[inner])))
    return Ridge(best).fit(x, y)


def category_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true.argmax(1) != y_pred.argmax(1)))


def pixel_l1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.abs(y_true - y_pred).mean())


def readouts(model, tokenizer, data, pos: np.ndarray, unseen=None, unseen_pos: np.ndarray | None = None) -> list[dict]:
    """Rows of the read-out table (module doc) for a model and its decoded training dataset `data` (with the
    contact pixels `pos` in the model's view), and optionally a decoded unseen-category dataset."""
    from .text import blind_prompts

    frame = data.frame
    tr, va = ~data.holdout, data.holdout
    cats = sorted(set(frame["category"]))
    onehot = np.eye(len(cats))[[cats.index(c) for c in frame["category"]]]
    groups = np.array([f"{t}/{i}" for t, i in zip(frame["task"], frame["instance_id"])])
    majority = float(np.mean(onehot[va].argmax(1) == onehot[tr].sum(0).argmax()))
    const_val = pixel_l1(pos[va], np.broadcast_to(pos[tr].mean(0), pos[va].shape))
    const_unseen = (pixel_l1(unseen_pos, np.broadcast_to(pos[tr].mean(0), unseen_pos.shape))
                    if unseen is not None else None)
    rows = []
    for colour in ("colour", "grey"):
        rgb = data.rgb if colour == "colour" else greyscale(data.rgb)
        feats = stage_features(model, tokenizer, rgb, blind_prompts(frame["prompt"], frame["category"]))
        ufeats = None
        if unseen is not None:
            urgb = unseen.rgb if colour == "colour" else greyscale(unseen.rgb)
            ufeats = stage_features(model, tokenizer, urgb,
                                    blind_prompts(unseen.frame["prompt"], unseen.frame["category"]))
        for stage in STAGES:
            x = feats[stage]
            cat = fit_readout(x[tr], onehot[tr], category_error, groups[tr])
            pix = fit_readout(x[tr], pos[tr], pixel_l1, groups[tr])
            row = {"images": colour, "stage": stage, "features": x.shape[1],
                   "category_accuracy_val": round(1 - category_error(onehot[va], cat.predict(x[va])), 4),
                   "category_chance": round(1 / len(cats), 4), "category_majority_val": round(majority, 4),
                   "pixel_l1_val": round(pixel_l1(pos[va], pix.predict(x[va])), 4),
                   "pixel_l1_constant_val": round(const_val, 4)}
            row["pixel_ratio_val"] = round(row["pixel_l1_val"] / const_val, 4) if const_val else None
            if ufeats is not None:
                row["pixel_l1_unseen"] = round(pixel_l1(unseen_pos, pix.predict(ufeats[stage])), 4)
                row["pixel_l1_constant_unseen"] = round(const_unseen, 4)
                row["pixel_ratio_unseen"] = round(row["pixel_l1_unseen"] / const_unseen, 4) if const_unseen else None
            rows.append(row)
    return rows
