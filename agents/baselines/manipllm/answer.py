"""ManipLLM's chain-of-thought answer: the text the model learns to write and the parser that turns its
greedy answer back into the 8-number action.

Five steps, separated by ';': the object's category, which kind of part moves (the target joint's type),
the contact point as two-digit row and column of a 100 x 100 grid over the model's view, and the gripper's
up (approach) and forward axes, three components each with two decimals. Every number is written digit by
digit, because the word-level vocabulary of the tiny models knows the digits, '-' and '.' but not numbers.
Three forms (FORMATS; a checkpoint records its own):

    words     storage furniture ; prismatic ; row 4 7 col 1 2 ; up 0 . 1 2 , - 0 . 9 9 , 0 . 0 1 ; front ...
    token     storagefurniture ; prismatic ; row 4 7 col 1 2 ; up 0 . 1 2 , - 0 . 9 9 , 0 . 0 1 ; front ...
    labelled  storagefurniture ; prismatic ; row 4 7 col 1 2 ; up one 0 . 1 2 two - 0 . 9 9 three 0 . 0 1 ; front ...

`words` (the first) names the category by its words, one to two of them; `token` by its one-word name in the
vocabulary, so that every answer's steps start at the same place whatever the category; `labelled` also names
each component, so that which component comes next is written in the text rather than counted. The parser is
strict: an answer that does not have exactly its checkpoint's form is unparsable (the evaluation records
`unparsable_answer` with the text), never repaired.
"""
from __future__ import annotations

import numpy as np

GRID = 100  # contact-point resolution: row and column in 0..99 of the view
SEP = ";"
AXES = ("up", "front")  # the gripper's approach axis and its forward (x) axis, in that order
FORMATS = ("words", "token", "labelled")  # the answer's forms: see the docstring
LABELS = ("one", "two", "three")  # the `labelled` form's names of an axis's components
UNPARSABLE = "unparsable_answer"  # the failure reason an episode records for an answer that does not parse


class UnparsableAnswer(ValueError):
    """A generated answer that is not of the documented form. `failure_reason` is what the evaluator
    records for the episode (evaluation.runner reads the attribute)."""

    def __init__(self, text: str, why: str):
        super().__init__(f"{why}: {text!r}")
        shown = text if len(text) <= 240 else text[:240] + "..."
        self.failure_reason = f"{UNPARSABLE}: {why}: {shown!r}"
        self.text, self.why = text, why


def number_words(x: float) -> str:
    """0.123 -> '0 . 1 2', -1 -> '- 1 . 0 0' (two decimals, one digit before the point; |x| <= 1)."""
    v = int(round(min(1.0, max(-1.0, float(x))) * 100))
    sign = "- " if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 100} . {(v // 10) % 10} {v % 10}"


def cell(pos: float) -> int:
    """A [0, 1] position of the view -> its row or column on the GRID."""
    return min(GRID - 1, max(0, int(float(pos) * GRID)))


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"answer format {fmt!r}: allowed: {', '.join(FORMATS)}")
    return fmt


def category_text(category: str, fmt: str = "words") -> str:
    """How an answer of form `fmt` names the category (its name as in sim_envs.categories, e.g. 'StorageFurniture'):
    its lower-case words ('storage furniture') or its one-word name ('storagefurniture')."""
    from sim_envs.categories import category_words

    return category_words(category).lower() if check_format(fmt) == "words" else category.lower()


def _axis(vec, fmt: str) -> str:
    if fmt == "labelled":
        return " ".join(f"{label} {number_words(v)}" for label, v in zip(LABELS, vec))
    return " , ".join(number_words(v) for v in vec)


def format_answer(category: str, joint_type: str, pos, up, forward, fmt: str = "words") -> str:
    """The training target: `category` as the answer names it (category_text), `pos` (row, col) in [0, 1] of the
    view, `up` and `forward` unit 3-vectors, in the form `fmt`."""
    check_format(fmt)
    r, c = cell(pos[0]), cell(pos[1])
    axes = [f"{name} {_axis(vec, fmt)}" for name, vec in zip(AXES, (up, forward))]
    return f" {SEP} ".join([category, joint_type, f"row {r // 10} {r % 10} col {c // 10} {c % 10}", *axes])


def steps(text: str) -> list[list[str]]:
    """The answer's steps, each a list of words."""
    return [part.split() for part in " ".join(text.split()).split(SEP)]


def _digit(w: str, text: str, what: str) -> int:
    if len(w) != 1 or not w.isdigit():
        raise UnparsableAnswer(text, f"{what} is not a digit")
    return int(w)


def _number(words: list[str], text: str) -> float:
    sign = -1.0 if words[:1] == ["-"] else 1.0
    w = words[1:] if sign < 0 else words
    if len(w) != 4 or w[1] != ".":
        raise UnparsableAnswer(text, "a component is not of the form [-] d . d d")
    return sign * (_digit(w[0], text, "a component") + _digit(w[2], text, "a component") / 10
                   + _digit(w[3], text, "a component") / 100)


def _components(words: list[str], name: str, text: str, fmt: str) -> list[list[str]]:
    """An axis step's words after its name -> each component's words."""
    if fmt != "labelled":
        comps = [c.split() for c in " ".join(words).split(",")]
    else:
        at = [k for k, w in enumerate(words) if w in LABELS]
        if [words[k] for k in at] != list(LABELS) or (at and at[0] != 0):
            raise UnparsableAnswer(text, f"the {name} axis's components are not labelled {', '.join(LABELS)}")
        comps = [words[a + 1: b] for a, b in zip(at, at[1:] + [len(words)])]
    if len(comps) != 3:
        raise UnparsableAnswer(text, f"the {name} axis has {len(comps)} components, expected 3")
    return comps


def parse_answer(text: str, fmt: str = "words") -> dict:
    """{'category': words, 'joint': word, 'pos': (row, col) in [0, 1] of the view (the cell's centre),
    'up': (3,), 'forward': (3,)} of an answer of form `fmt`; UnparsableAnswer says what is wrong."""
    check_format(fmt)
    parts = steps(text)
    if len(parts) != 5:
        raise UnparsableAnswer(text, f"{len(parts)} steps, expected 5")
    category, joint, point, *axes = parts
    if not category or len(joint) != 1:
        raise UnparsableAnswer(text, "no category or no single joint word")
    if fmt != "words" and len(category) != 1:
        raise UnparsableAnswer(text, "the category is not one word")
    if len(point) != 6 or point[0] != "row" or point[3] != "col":
        raise UnparsableAnswer(text, "the contact point is not 'row d d col d d'")
    r = 10 * _digit(point[1], text, "a row digit") + _digit(point[2], text, "a row digit")
    c = 10 * _digit(point[4], text, "a column digit") + _digit(point[5], text, "a column digit")
    vecs = []
    for name, words in zip(AXES, axes):
        if words[:1] != [name]:
            raise UnparsableAnswer(text, f"the {name} step does not start with '{name}'")
        vec = np.array([_number(x, text) for x in _components(words[1:], name, text, fmt)])
        if np.linalg.norm(vec) < 1e-6:
            raise UnparsableAnswer(text, f"the {name} axis is zero")
        vecs.append(vec)
    return {"category": " ".join(category), "joint": joint[0], "pos": ((r + 0.5) / GRID, (c + 0.5) / GRID),
            "up": vecs[0], "forward": vecs[1]}


def mask_step(text: str, which: int, mask: str = "?") -> tuple[str, str]:
    """ManipLLM's masked-coordinate task: (the answer with the numbers of step `which` (2: the point, 3: up,
    4: front) replaced by `mask`, the masked words as the target)."""
    parts = steps(text)
    words = parts[which]
    keep = [w if not w.isdigit() else mask for w in words]
    target = " ".join(w for w in words if w.isdigit() or w in ("-",))
    keep = [w for w in keep if w != "-"]
    parts[which] = keep
    return f" {SEP} ".join(" ".join(p) for p in parts), target
