"""Text: :func:`standardize_caption` (lower-case, strip punctuation but keep numbers such as
``37.5`` and ``50%``) and :func:`make_text_vectorizer` (a ``TextVectorization`` adapted on a
corpus)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mmlib._validate import check_choice, check_int

__all__ = ["make_text_vectorizer", "standardize_caption"]


@keras.saving.register_keras_serializable(package="mmlib")
def standardize_caption(text: Any) -> Any:
    """Standardise captions and clinical-style notes for ``TextVectorization``.

    Rules, in order: lower-case (Unicode-aware); drop apostrophes (``patient's`` → ``patients``);
    replace every character that is not a letter, digit, ``.``, ``%`` or whitespace by a space
    (``120/80`` → ``120 80``, ``left-sided`` → ``left sided``); keep ``.`` only between two digits
    (``37.5`` stays, a sentence-final ``.`` goes); collapse runs of whitespace and strip the ends.
    Unlike Keras' default ``"lower_and_strip_punctuation"`` this keeps decimal numbers and
    percentages intact, which matter in measurements.

    Args:
        text: string tensor of any shape.

    Returns:
        String tensor of the same shape.
    """
    if not isinstance(text, tf.Tensor):
        try:
            text = tf.convert_to_tensor(text)
        except (TypeError, ValueError):
            raise TypeError(f"text must be a string tensor (or strings), got "
                            f"{type(text).__name__}.") from None
    if text.dtype != tf.string:
        raise TypeError(f"text must be a string tensor (or strings), got dtype "
                        f"{text.dtype.name}.")
    s = tf.strings.lower(text, encoding="utf-8")
    s = tf.strings.regex_replace(s, "['\u2019]", "")
    s = tf.strings.regex_replace(s, r"[^\pL\pN\s.%]", " ")
    s = tf.strings.regex_replace(s, r"\.(\D|$)", r" \1")
    s = tf.strings.regex_replace(s, r"(^|\D)\.", r"\1 ")
    s = tf.strings.regex_replace(s, r"\s+", " ")
    return tf.strings.strip(s)


def make_text_vectorizer(corpus: Iterable[str] | np.ndarray, max_tokens: int | None = None,
                         sequence_length: int | None = None, output_mode: str = "int",
                         ngrams: int | None = None, standardize: Any = "caption",
                         name: str = "text_vectorizer") -> keras.layers.TextVectorization:
    """A ``keras.layers.TextVectorization`` adapted on ``corpus``.

    The vocabulary is built from the training corpus only (``adapt``): index 0 is padding,
    1 is ``[UNK]`` (out of vocabulary), then tokens by decreasing frequency (Keras breaks ties
    by reverse token order). Use the result as the first
    layer of a text model or in ``tf.data`` (``ds.map(lambda t, y: (vectorizer(t), y))``).

    Args:
        corpus: training texts (list, array or ``tf.data.Dataset`` of strings).
        max_tokens: vocabulary size cap, including padding and ``[UNK]`` (``None`` = no cap).
        sequence_length: pad/truncate ``"int"`` outputs to this length (``None`` = longest in
            the batch).
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        ngrams: also index n-grams up to this length.
        standardize: ``"caption"`` (:func:`standardize_caption`), any value accepted by
            ``TextVectorization`` (e.g. ``"lower_and_strip_punctuation"``, ``None``) or a
            registered callable.
        name: layer name.

    Returns:
        The adapted layer: strings ``(batch,)`` → int ``(batch, sequence_length)`` (``"int"``) or
        float ``(batch, vocabulary_size)``.
    """
    output_mode = check_choice("output_mode", output_mode, ("int", "multi_hot", "count", "tf_idf"))
    if max_tokens is not None:
        max_tokens = check_int("max_tokens", max_tokens, minimum=3)
    if sequence_length is not None:
        sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    if ngrams is not None:
        ngrams = check_int("ngrams", ngrams, minimum=1)
    if isinstance(corpus, str):
        raise ValueError("corpus must be a collection of texts, got a single string.")
    if not isinstance(corpus, (Iterable, tf.data.Dataset)):
        raise ValueError(f"corpus must be a collection of texts (list, array or tf.data.Dataset "
                         f"of strings), got {type(corpus).__name__}.")
    if not isinstance(corpus, tf.data.Dataset):
        corpus = np.asarray(list(corpus), dtype=object).astype(str)
        if corpus.size == 0:
            raise ValueError("corpus must contain at least one text, got an empty collection.")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_caption if standardize == "caption"
        else standardize, output_mode=output_mode, output_sequence_length=sequence_length
        if output_mode == "int" else None, ngrams=ngrams, name=name)
    layer.adapt(corpus)
    return layer
