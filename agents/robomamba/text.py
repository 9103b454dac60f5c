"""Text side of the tiny model: a word-level tokenizer (Hugging Face `tokenizers`) whose vocabulary
is fixed by the prompts, category names and sim-QA templates, so it needs no download and no data.

A real language-model checkpoint brings its own tokenizer (loaded from the same local directory).
"""
from __future__ import annotations

import json

SPECIAL = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"]
PAD, UNK, BOS, EOS, SEP = range(5)

# words of the prompt template and of the sim-QA templates (agents.robomamba.qa); extra words only
# cost a row of the embedding table
BASE_WORDS = """predict the contact point and orientation for pulling . , ? : ; ' - what is which part
moves movable joint type of this a an on at in to does it yes no prismatic revolute slides rotates
hinge drawer door lid object category grasp where should i pull open pixel row col column left right
top bottom middle center centre up down front back near far image there are how many parts visible
show shows located lies does not can be opened by one two three four five six seven eight nine zero
0 1 2 3 4 5 6 7 8 9 closed partly fully state
""".split()


def vocabulary() -> list[str]:
    from sim_envs.categories import ALIASES, ALL, category_words

    words = list(BASE_WORDS)
    for c in ALL:
        words += category_words(c).lower().split()
        words.append(c.lower())
    for a in ALIASES:
        words += a.lower().replace("_", " ").split()
    return SPECIAL + sorted(set(words) - set(SPECIAL))


def known_words(categories) -> list[str]:
    """The words a model trained on these categories has seen: the prompt and sim-QA templates and the
    categories' names (the words whose embeddings training moves)."""
    from sim_envs.categories import category_words

    words = set(BASE_WORDS)
    for c in categories:
        words.update(category_words(c).lower().split())
        words.add(c.lower())
    return sorted(words)


def restrict_vocabulary(tokenizer, words):
    """A copy of the tokenizer that keeps only `words` (and the special tokens), with their ids: any
    other word, an unseen category's name for one, encodes as [UNK]."""
    keep = set(words) | set(SPECIAL)
    return build_tokenizer({w: i for w, i in tokenizer.get_vocab().items() if w in keep})


# a word outside the tiny vocabulary (it encodes as [UNK]): what replaces the category name in a
# blinded prompt (category-word dropout in training, and the probe's `blind` prompts)
BLIND_WORD = "thing"


def blind_category(prompt: str, category: str, per_word: bool = False) -> str:
    """The prompt with its category's name replaced by BLIND_WORD, or with `per_word` each of the
    name's words (as a restricted vocabulary reads an unseen name: one [UNK] per word)."""
    from sim_envs.categories import category_words

    words = category_words(category).lower()
    i = prompt.lower().find(words)
    if i < 0:
        raise ValueError(f"prompt {prompt!r} does not name its category {category!r}")
    blind = " ".join([BLIND_WORD] * len(words.split())) if per_word else BLIND_WORD
    return prompt[:i] + blind + prompt[i + len(words):]


def blind_prompts(prompts, categories) -> list[str]:
    """Each prompt with its category's words replaced by BLIND_WORD."""
    return [blind_category(p, c) for p, c in zip(prompts, categories)]


def build_tokenizer(vocab: list[str] | dict | None = None):
    """Word-level tokenizer over `vocab` (words in id order, or {word: id}); default vocabulary()."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    vocab = vocab or vocabulary()
    ids = vocab if isinstance(vocab, dict) else {w: i for i, w in enumerate(vocab)}
    tok = Tokenizer(WordLevel(ids, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def tokenizer_from_json(text: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(text)


def encode_batch(tokenizer, texts: list[str], max_len: int):
    """Right-padded ids and mask (B, T) with [BOS] first; T = the longest item, at most max_len."""
    import torch

    seqs = [[BOS] + tokenizer.encode(t).ids[: max_len - 1] for t in texts]
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), PAD, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def vocab_json(tokenizer) -> str:
    return json.dumps(tokenizer.get_vocab(), sort_keys=True)
