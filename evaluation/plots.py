"""The look every result plot shares (evaluation.tables, evaluation.ablations): one colour per method that
no other method of the figure shares, a method trained with several seeds drawn once (the mean over its
seeds, each seed a small hollow marker), Wilson 95% intervals of the pooled episodes as bars, published
numbers as a bar-wide tick in the method's colour, and seen and unseen categories in two panels."""
from __future__ import annotations

import re

import numpy as np

# 20 colours that stay apart from each other (matplotlib's tab10, then tab20's lighter halves)
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf"]
_LIGHT = ["#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d",
          "#9edae5"]
PALETTE = _TAB10 + _LIGHT
# failure reasons (evaluation.tables' failures.png, the report's charts): no green, which is success's
FAILURE_COLOURS = ["#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                   "#17becf", "#aec7e8", "#ffbb78", "#ff9896", "#c5b0d5", "#c49c94"]


def method_of(label: str) -> str:
    """The method of a run label: 'robomamba@s1' -> 'robomamba' (a training seed of it)."""
    return label.split("@s")[0] if re.search(r"@s\d+$", label) else label


def families(labels) -> dict[str, list[str]]:
    """{method: its run labels}, methods in order of first appearance."""
    out: dict[str, list[str]] = {}
    for label in labels:
        out.setdefault(method_of(label), []).append(label)
    return out


def colors(methods) -> dict[str, str]:
    """A colour per method, none shared (ValueError past the palette's 20)."""
    methods = list(dict.fromkeys(methods))
    if len(methods) > len(PALETTE):
        raise ValueError(f"{len(methods)} methods in one plot; at most {len(PALETTE)} get colours of their own")
    return dict(zip(methods, PALETTE))


def key(name: str) -> str:
    """A name compared loosely: 'FlowBot3D' and 'flowbot3d' match."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def offsets(n: int, width: float = 0.8) -> np.ndarray:
    """x offsets of n methods side by side within one category."""
    if n <= 1:
        return np.zeros(max(n, 1))
    return (np.arange(n) - (n - 1) / 2) * (width / n)


def draw_method(ax, x, mean, low, high, color, seeds=None, label=None, marker="o") -> None:
    """One method at positions x: its mean with the interval [low, high] as a bar, and each seed's value."""
    x, mean = np.asarray(x, float), np.asarray(mean, float)
    err = np.vstack([mean - np.asarray(low, float), np.asarray(high, float) - mean])
    ax.errorbar(x, mean, yerr=err, fmt=marker, ms=4, color=color, elinewidth=0.9, capsize=0, label=label, zorder=3)
    if seeds is not None:
        seeds = np.asarray(seeds, float)  # (n_seeds, len(x))
        if seeds.ndim == 2 and seeds.shape[0] > 1:
            for row in seeds:
                ax.scatter(x, row, s=10, facecolors="none", edgecolors=color, linewidths=0.6, zorder=4)


def draw_published(ax, x, values, color, half_width: float, label=None) -> None:
    """Published numbers: a horizontal tick across the method's slot."""
    for xi, v in zip(np.atleast_1d(x), np.atleast_1d(values)):
        if np.isfinite(v):
            ax.hlines(v, xi - half_width, xi + half_width, colors=color, linewidth=2.2, zorder=5,
                      label=label)
            label = None


def legend_keys(seeds: bool, published: bool):
    """Grey legend entries saying what the marks mean."""
    from matplotlib.lines import Line2D

    keys = [Line2D([], [], color="grey", marker="o", ms=4, lw=0.9, label="mean (Wilson 95% of the episodes)")]
    if seeds:
        keys.append(Line2D([], [], color="grey", marker="o", ms=4, mfc="none", lw=0, label="each training seed"))
    if published:
        keys.append(Line2D([], [], color="grey", lw=2.2, label="published"))
    return keys
