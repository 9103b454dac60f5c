"""Sim-QA: instruction data that the simulator's ground truth makes for free from a collected dataset.

Our stand-in for the paper's co-training on instruction and robot QA data (no pretrained CLIP or
Mamba can be downloaded here, so the backbone learns to see from these). Every question is about
the image of one collected sample; answers are short texts scored by exact match:

    kind       question                                                        answer
    category   "what is the category of this object ?"                         "storage furniture"
    joint      "what is the joint type of the part to pull ?"                  "prismatic" / "revolute"
    on_part    "is the point at row 3 col 7 on the part to pull ?"             "yes" / "no"
    grasp      "where should i grasp to pull it open ?"                        "row 4 col 6"
    grasp      the manipulation prompt itself                                  "row 4 col 6"

Image positions are cells of a GRID x GRID grid over the image (row / col in 0..GRID-1), so the
word-level tokenizer needs only the digits. The on_part answer is the target-link mask at the
cell's centre pixel; half of those questions ask about a cell on the part.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 10
KINDS = ("category", "joint", "on_part", "grasp")

Q_CATEGORY = "what is the category of this object ?"
Q_JOINT = "what is the joint type of the part to pull ?"
Q_ON_PART = "is the point at row {r} col {c} on the part to pull ?"
Q_GRASP = "where should i grasp to pull it open ?"


@dataclass
class QAFacts:
    """What the questions of one sample are about (small: made once per sample)."""
    category: str  # words, e.g. "storage furniture"
    joint_type: str  # "prismatic" | "revolute"
    prompt: str  # the manipulation prompt
    on_part: np.ndarray  # (GRID, GRID) bool: target-link mask at each cell centre
    grasp_cell: tuple[int, int] | None  # the demo's contact cell (None for a failed trial)


def cell_of(pixel_rc, height: int, width: int) -> tuple[int, int]:
    r, c = float(pixel_rc[0]), float(pixel_rc[1])
    return min(GRID - 1, int(r * GRID / height)), min(GRID - 1, int(c * GRID / width))


def grasp_answer(cell: tuple[int, int]) -> str:
    return f"row {cell[0]} col {cell[1]}"


def parse_grasp(text: str) -> tuple[int, int] | None:
    """'row 4 col 6' -> (4, 6); None when the text is not of that form."""
    words = text.split()
    if len(words) == 4 and words[0] == "row" and words[2] == "col" and words[1].isdigit() and words[3].isdigit():
        return int(words[1]), int(words[3])
    return None


def questions(f: QAFacts, rng: np.random.Generator, kind: str | None = None) -> tuple[str, str, str]:
    """One (kind, question, answer) for a sample; `kind` None draws one of the kinds it has."""
    kinds = [k for k in KINDS if k != "grasp" or f.grasp_cell is not None]
    kind = kind or kinds[int(rng.integers(len(kinds)))]
    if kind == "category":
        return kind, Q_CATEGORY, f.category
    if kind == "joint":
        return kind, Q_JOINT, f.joint_type
    if kind == "on_part":
        want = bool(rng.integers(2)) and f.on_part.any()
        cells = np.argwhere(f.on_part == want) if (f.on_part == want).any() else np.argwhere(~f.on_part)
        r, c = cells[int(rng.integers(len(cells)))]
        return kind, Q_ON_PART.format(r=r, c=c), "yes" if f.on_part[r, c] else "no"
    if kind == "grasp":
        if f.grasp_cell is None:
            raise ValueError("a grasp question needs a successful demo's contact pixel")
        q = Q_GRASP if rng.integers(2) else f.prompt
        return kind, q, grasp_answer(f.grasp_cell)
    raise ValueError(f"unknown question kind {kind!r}; allowed: {', '.join(KINDS)}")


def score(predicted: str, answer: str) -> bool:
    """Exact match after whitespace normalisation (what the accuracy figures count)."""
    return " ".join(predicted.split()) == " ".join(answer.split())
