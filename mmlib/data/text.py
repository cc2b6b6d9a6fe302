"""Word-level tokenizer of the generated texts (captions, questions, clinical notes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mmlib._validate import check_int

__all__ = ["detokenize", "tokenize"]


def tokenize(texts: Iterable[str], vocab: Sequence[str], max_len: int) -> np.ndarray:
    """Map whitespace-separated words to ids in ``vocab``: int32 ``(n, max_len)``.

    Id 0 is padding (``vocab[0] == "<pad>"``), id 1 unknown words (``vocab[1] == "<unk>"``);
    longer texts are cut at ``max_len`` tokens.
    """
    max_len = check_int("max_len", max_len, minimum=1)
    index = {w: i for i, w in enumerate(vocab)}
    texts = list(texts)
    out = np.zeros((len(texts), max_len), dtype=np.int32)
    for i, t in enumerate(texts):
        ids = [index.get(w, 1) for w in t.split()[:max_len]]
        out[i, : len(ids)] = ids
    return out


def detokenize(ids: np.ndarray, vocab: Sequence[str]) -> list[str]:
    """Inverse of :func:`tokenize` (padding dropped): ``(n, L)`` ids -> list of n strings."""
    ids = np.atleast_2d(np.asarray(ids))
    return [" ".join(vocab[i] for i in row if i != 0) for row in ids]
