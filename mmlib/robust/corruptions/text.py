"""Text corruptions: typos and word drop, on strings or on integer token ids.

Each function takes a batch of strings (list, tuple or array; the container is kept) or token
ids ``(batch, seq_len)`` with 0 = padding (right padded, as ``keras.layers.TextVectorization``
produces); ``severity`` 0 returns the input unchanged.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import numpy as np

from mmlib._validate import check_int
from mmlib.robust._arrays import prologue

__all__ = ["text_typos", "text_word_drop"]


def _text(x: Any) -> tuple[np.ndarray, bool]:
    """Return (array, is_strings); token ids must be a 2-D integer array."""
    if isinstance(x, str):
        raise ValueError("x must be a batch of texts (a list or array of strings) or token ids "
                         f"(batch, seq_len), got a single string {x[:30]!r}.")
    arr = np.asarray(x)
    if arr.size and arr.dtype.kind in "UO" and all(isinstance(v, str) for v in arr.ravel()):
        return arr, True
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 2:
        raise ValueError("x must be integer token ids of shape (batch, seq_len) or a batch of "
                         f"strings, got dtype {arr.dtype} and shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample, got shape {arr.shape}.")
    return arr, False


def _edit_strings(x_in: Any, arr: np.ndarray, severity: float, edit: Callable[[str], str]) -> Any:
    """Apply ``edit`` to every string of ``arr`` (none at severity 0), in ``x_in``'s container."""
    texts = list(arr.ravel())
    return _strings_like(texts if severity == 0.0 else [edit(t) for t in texts], x_in, arr)


def _drop_words(text: str, p: float, rng: np.random.Generator) -> str:
    words = text.split()
    keep = rng.random(len(words)) >= p
    return " ".join(w for w, k in zip(words, keep, strict=True) if k)


def _strings_like(out: list[str], x_in: Any, arr: np.ndarray) -> Any:
    if isinstance(x_in, list | tuple):
        return type(x_in)(out) if isinstance(x_in, list) else tuple(out)
    res = np.empty(arr.shape, dtype=object)
    res.ravel()[:] = out
    return res if arr.dtype.kind == "O" else res.astype(str)


def _typo_string(text: str, p: float, rng: np.random.Generator) -> str:
    letters = string.ascii_lowercase
    chars, out, i = list(text), [], 0
    while i < len(chars):
        c = chars[i]
        if c.isalpha() and rng.random() < p:
            op = int(rng.integers(4))
            new = letters[int(rng.integers(26))]
            new = new.upper() if c.isupper() else new
            if op == 0:  # substitute
                out.append(new)
            elif op == 1:  # delete
                pass
            elif op == 2:  # insert a letter after c
                out.extend([c, new])
            elif i + 1 < len(chars):  # swap with the next character
                out.extend([chars[i + 1], c])
                i += 2
                continue
            else:
                out.append(new)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def text_typos(x: Any, severity: float, seed: int = 0, *, vocab_size: int | None = None,
               pad_id: int = 0) -> Any:
    """Typos: character edits for strings, random token substitution for token ids.

    *Strings* (a list, tuple or array of ``str``): every letter is, with probability
    ``severity``, substituted by a random letter, deleted, followed by an inserted random letter,
    or swapped with the next character (one of the four, equally likely). Non-letters are kept.
    The container type and shape are kept (a fixed-width ``str`` array may get a wider width).

    *Token ids* ``(batch, seq_len)``: every non-padding token is, with probability ``severity``,
    replaced by a different id drawn uniformly from ``[0, vocab_size)`` without ``pad_id`` and
    without the original id. Padding positions (``== pad_id``, 0 by default) are never touched
    and padding is never introduced, so sequence lengths are unchanged.

    Args:
        x: strings or integer token ids ``(batch, seq_len)``.
        severity: per-character / per-token probability, in [0, 1].
        seed: seed of the edits.
        vocab_size: size of the id vocabulary (default ``x.max() + 1``); must be >= 3.
        pad_id: padding id (never edited, never produced).

    Returns:
        Same container, shape and dtype as ``x``.
    """
    (arr, is_str), severity, rng = prologue(x, severity, seed, _text)
    if is_str:
        return _edit_strings(x, arr, severity, lambda t: _typo_string(t, severity, rng))
    pad_id = check_int("pad_id", pad_id)
    if arr.min() < 0:
        raise ValueError(f"token ids must be >= 0, got ids in [{arr.min()}, {arr.max()}].")
    if vocab_size is None:
        vocab_size = int(arr.max()) + 1
    vocab_size = check_int("vocab_size", vocab_size, minimum=3)
    if arr.max() >= vocab_size:
        raise ValueError(f"token ids must lie in [0, vocab_size={vocab_size}), got ids in "
                         f"[{arr.min()}, {arr.max()}].")
    if severity == 0.0:
        return arr.copy()
    hit = (arr != pad_id) & (rng.random(arr.shape) < severity)
    r = rng.integers(0, vocab_size - 2, size=arr.shape)
    low = np.minimum(arr, pad_id)
    high = np.maximum(arr, pad_id)
    new = r + (r >= low)  # skip the smaller excluded id, then the larger one
    new = new + (new >= high)
    y = arr.copy()
    y[hit] = new[hit].astype(arr.dtype)
    return y


def text_word_drop(x: Any, severity: float, seed: int = 0, *, pad_id: int = 0) -> Any:
    """Drop each word (string input) or each non-padding token (token ids) with prob. severity.

    *Strings*: split on whitespace, drop words, re-join with single spaces.
    *Token ids* ``(batch, seq_len)``: the kept tokens keep their order and move to the front of the
    row; the freed positions at the end are filled with ``pad_id`` (right padding, as produced by
    ``keras.layers.TextVectorization``). Padding is never counted as a word and is never dropped
    "into" the middle of a sequence, so the result is a valid right-padded batch of the same shape.

    Args:
        x: strings or integer token ids ``(batch, seq_len)``.
        severity: per-word drop probability, in [0, 1]; 1 empties every text.
        seed: seed of the drops.
        pad_id: padding id, also written into the positions freed at the end of a row.

    Returns:
        Same container, shape and dtype as ``x``.
    """
    (arr, is_str), severity, rng = prologue(x, severity, seed, _text)
    if is_str:
        return _edit_strings(x, arr, severity, lambda t: _drop_words(t, severity, rng))
    pad_id = check_int("pad_id", pad_id)
    if severity == 0.0:
        return arr.copy()
    keep = (arr != pad_id) & (rng.random(arr.shape) >= severity)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept tokens first, in original order
    y = np.take_along_axis(arr, order, axis=1)
    y[~np.take_along_axis(keep, order, axis=1)] = pad_id
    return y
