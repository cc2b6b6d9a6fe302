"""``shapes_captions``: rendered scenes of coloured shapes with a caption and a question / answer
pair (the running alignment example).

Steps of :func:`load_shapes_captions`: draw the scene graph (:func:`_scene`) → render the image
(:func:`_render`) → write the caption (:func:`_caption`) and the question with its answer
(:func:`_question`) → the container. The data card is in ``datasets/README.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_float, check_int
from mmlib.data._build import check_common, finish
from mmlib.data.container import MultimodalDataset
from mmlib.data.text import tokenize

__all__ = ["ANSWERS", "COLOURS", "QUESTION_TYPES", "SHAPES", "SHAPES_VOCAB", "SIZES",
           "load_shapes_captions"]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
"""Shape kinds of ``shapes_captions`` (``metadata["shape_kind"]`` indexes this)."""
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple")
"""Colour names of ``shapes_captions`` (``metadata["shape_colour"]`` indexes this)."""
_RGB = np.array([[0.90, 0.16, 0.14], [0.18, 0.70, 0.22], [0.18, 0.36, 0.95],
                 [0.96, 0.86, 0.12], [0.66, 0.26, 0.82]], dtype=np.float32)
SIZES: tuple[str, ...] = ("small", "large")
"""Size names of ``shapes_captions`` (``metadata["shape_size"]`` indexes this)."""
ANSWERS: tuple[str, ...] = ("no", "yes", "zero", "one", "two", "three", *COLOURS, *SHAPES)
"""Answer classes of the ``shapes_captions`` task ``answer``."""
QUESTION_TYPES: tuple[str, ...] = ("count", "count_colour", "exist", "colour_of", "shape_of")
"""Question templates of ``shapes_captions`` (``metadata["question_type"]`` indexes this)."""
_NUMBERS = ("zero", "one", "two", "three")
_REL_WORDS = {"left": (("left", "of"), ("to", "the", "left", "of")),
              "right": (("right", "of"), ("to", "the", "right", "of")),
              "above": (("above",),), "below": (("below",), ("under",))}
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
SHAPES_VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", "a", "there", "is", "an", "image", "with", "and", "the", "left", "right",
    "of", "to", "above", "below", "under", "small", "large", "big", *COLOURS, *SHAPES, "shape",
    "how", "many", "shapes", "are", "what", "colour", "one", "?", "zero", "two", "three", "yes",
    "no")
"""Token vocabulary of the ``shapes_captions`` captions and questions (0 = padding, 1 = unknown)."""


def load_shapes_captions(n_samples: int = 3000, seed: int = 0, *, image_size: int = 32,
                         max_shapes: int = 3, noise: float = 0.03, caption_len: int = 16,
                         question_len: int = 10, missing_rate: float = 0.0
                         ) -> MultimodalDataset:
    """Rendered scenes of 1-3 coloured shapes with a caption and a question / answer pair.

    The alignment (retrieval) and reasoning (FiLM / VQA) example. Each scene has 1 to
    ``max_shapes`` shapes (circle, square, triangle; five colours; small or large) in distinct
    cells of a 3x3 grid with jitter, on a grey background with pixel noise. The caption comes
    from a small grammar with paraphrases, optional attributes and spatial relations ("a small
    red circle to the left of a blue square", "a blue square is right of a red circle", "there
    is a big yellow shape"); it mentions at most two shapes and often leaves out size or colour,
    so several scenes fit one caption and retrieval is not trivial. The question is one of five
    types (count, count of a colour, existence, colour of a unique shape, shape of a unique
    colour) with a one-word answer. In the spirit of CLEVR (Johnson et al., 2017, "CLEVR: A
    Diagnostic Dataset for Compositional Language and Elementary Visual Reasoning", CVPR), in 2-D.

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        image_size: side of the square RGB image (>= 24).
        max_shapes: 1, 2 or 3 shapes at most per scene.
        noise: standard deviation of the Gaussian pixel noise.
        caption_len, question_len: token sequence lengths (padded with 0).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``image`` ``(n, S, S, 3)`` float32,
        ``caption`` ``(n, caption_len)`` int32 and ``question`` ``(n, question_len)`` int32 token
        ids (vocabulary ``info["vocab"]``); task ``answer`` (int32 index into
        ``info["class_names"]["answer"]``); metadata: raw strings ``caption_text``,
        ``question_text``, ``answer_text`` (unicode arrays), ``question_type``, ``n_shapes`` and
        the scene graph ``shape_kind``, ``shape_colour``, ``shape_size`` (``(n, 3)`` int8, -1 =
        no shape), ``shape_x``, ``shape_y`` (``(n, 3)`` float32 pixel centres).
    """
    check_common(n_samples, seed, missing_rate)
    size = check_int("image_size", image_size, minimum=24, maximum=128)
    max_shapes = check_int("max_shapes", max_shapes, minimum=1, maximum=3)
    noise = check_float("noise", noise, minimum=0.0)
    caption_len = check_int("caption_len", caption_len, minimum=4)
    question_len = check_int("question_len", question_len, minimum=4)
    # stream order is part of the data: append new streams at the end
    r_scene, r_img, r_text = rng_streams(seed, 3)

    scene = _scene(r_scene, n_samples, size, max_shapes)
    img = _render(scene, r_img, size, noise)
    captions, questions, answers, q_types = _texts(scene, r_text)

    knobs = {"n_samples": n_samples, "seed": seed, "image_size": size, "max_shapes": max_shapes,
             "noise": noise, "caption_len": caption_len, "question_len": question_len,
             "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "shapes_captions",
        {"image": img, "caption": tokenize(captions, SHAPES_VOCAB, caption_len),
         "question": tokenize(questions, SHAPES_VOCAB, question_len)},
        {"answer": answers}, metadata=_metadata(scene, captions, questions, answers, q_types),
        info=_info(knobs))
    return finish(ds, missing_rate, seed)


def _scene(gen: np.random.Generator, n: int, size: int, max_shapes: int) -> dict[str, np.ndarray]:
    """The scene graph: per scene up to 3 shape slots ``(n, 3)`` (``present``, ``kind``,
    ``colour``, ``big``, grid ``row`` / ``col``, pixel centre ``cx`` / ``cy``, ``radius``) and
    ``n_shapes`` ``(n,)``."""
    p_count = np.array([0.2, 0.4, 0.4][:max_shapes])
    n_shapes = gen.choice(np.arange(1, max_shapes + 1), size=n, p=p_count / p_count.sum())
    present = np.arange(3)[None, :] < n_shapes[:, None]
    cell = np.argsort(gen.random((n, 9)), axis=1)[:, :3]
    row, col = cell // 3, cell % 3
    kind = gen.integers(3, size=(n, 3))
    colour = gen.integers(5, size=(n, 3))
    big = gen.integers(2, size=(n, 3))
    radius = np.where(big == 1, 0.14, 0.085).astype(np.float32) * size
    slack = size / 6 - radius - 0.5
    cx = ((col + 0.5) * size / 3 + (2 * gen.random((n, 3)) - 1) * slack).astype(np.float32)
    cy = ((row + 0.5) * size / 3 + (2 * gen.random((n, 3)) - 1) * slack).astype(np.float32)
    return {"n_shapes": n_shapes, "present": present, "row": row, "col": col, "kind": kind,
            "colour": colour, "big": big, "radius": radius, "cx": cx, "cy": cy}


def _render(scene: dict[str, np.ndarray], gen: np.random.Generator, size: int,
            noise: float) -> np.ndarray:
    """Images ``(n, S, S, 3)`` in [0, 1]: shaded grey background, tinted shapes, pixel noise."""
    n = len(scene["n_shapes"])
    shade = 0.32 + 0.1 * gen.random(n, dtype=np.float32)
    ramp = np.linspace(0.04, -0.04, size, dtype=np.float32)
    img = np.empty((n, size, size, 3), dtype=np.float32)
    img[...] = (shade[:, None, None] + ramp[None, :, None])[..., None]
    tint = _RGB[scene["colour"]] + 0.05 * gen.standard_normal((n, 3, 3), dtype=np.float32)
    _paint_shapes(img, scene["kind"], scene["cx"], scene["cy"], scene["radius"], tint,
                  scene["present"])
    img += gen.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    np.clip(img, 0.0, 1.0, out=img)
    return img


def _texts(scene: dict[str, np.ndarray], gen: np.random.Generator
           ) -> tuple[list[str], list[str], np.ndarray, list[int]]:
    """Captions, questions, answers (int32 ``(n,)``) and question types of every scene.

    All random numbers are drawn first, as arrays; the per-scene work is plain Python on lists
    (NumPy per-element calls would be slower).
    """
    n = len(scene["n_shapes"])
    u = gen.random((n, 16))
    q_type_draw = gen.integers(len(QUESTION_TYPES), size=n)
    pick = gen.integers(3, size=(n, 4))
    attr = np.stack([gen.integers(3, size=n), gen.integers(5, size=n)], axis=1)
    kind_l, colour_l, big_l, row_l, col_l = (scene[k].tolist() for k in
                                             ("kind", "colour", "big", "row", "col"))
    u_l, pick_l, attr_l, n_l = u.tolist(), pick.tolist(), attr.tolist(), scene["n_shapes"].tolist()
    qtype_l = q_type_draw.tolist()
    captions, questions, answers, q_types = [], [], [], []
    for i in range(n):
        m = n_l[i]
        ks, cs, ss = kind_l[i][:m], colour_l[i][:m], big_l[i][:m]
        captions.append(_caption(ks, cs, ss, row_l[i], col_l[i], u_l[i], pick_l[i]))
        q, a, qt = _question(QUESTION_TYPES[qtype_l[i]], ks, cs, u_l[i], pick_l[i], attr_l[i])
        questions.append(q)
        answers.append(ANSWERS.index(a))
        q_types.append(QUESTION_TYPES.index(qt))
    return captions, questions, np.array(answers, dtype=np.int32), q_types


def _caption(ks: list[int], cs: list[int], ss: list[int], row: list[int], col: list[int],
             ui: list[float], pi: list[int]) -> str:
    """The caption of one scene with shapes ``ks`` (kinds), ``cs`` (colours), ``ss`` (sizes):
    one or two noun phrases, often with a spatial relation; ``ui``, ``pi`` are its uniforms and
    random picks."""
    m = len(ks)
    t = pi[0] % m
    ref = (t + 1 + pi[1] % (m - 1)) % m if m > 1 else t
    np_t = _noun_phrase(ks[t], cs[t], ss[t], ui[0:4])
    if m > 1 and ui[8] < 0.8:
        np_r = _noun_phrase(ks[ref], cs[ref], ss[ref], ui[4:8])
        dcol, drow = col[t] - col[ref], row[t] - row[ref]
        if abs(dcol) >= abs(drow):
            rel = "left" if dcol < 0 else "right"
        else:
            rel = "above" if drow < 0 else "below"
        template = int(ui[9] * 4)
        if template == 3:
            np_t, np_r, rel = np_r, np_t, _INVERSE[rel]
        phrases = _REL_WORDS[rel]
        rel_words = list(phrases[int(ui[10] * len(phrases))])
        lead = (["there", "is"] if template == 1 else [])
        words = lead + np_t + (["is"] if template in (2, 3) else []) + rel_words + np_r
    else:
        template = int(ui[9] * (4 if m > 1 else 3))
        if template == 3:
            words = np_t + ["and"] + _noun_phrase(ks[ref], cs[ref], ss[ref], ui[4:8])
        else:
            words = [[], ["there", "is"], ["an", "image", "with"]][template] + np_t
    return " ".join(words)


def _question(qt: str, ks: list[int], cs: list[int], ui: list[float], pi: list[int],
              attr: list[int]) -> tuple[str, str, str]:
    """``(question, answer, question type)`` of one scene for the drawn type ``qt`` (a type that
    does not fit the scene is replaced: colour_of -> count_colour, shape_of -> exist)."""
    m = len(ks)
    unique_kinds = [k_ for k_ in range(3) if ks.count(k_) == 1]
    unique_colours = [c_ for c_ in range(5) if cs.count(c_) == 1]
    if qt == "colour_of" and not unique_kinds:
        qt = "count_colour"
    if qt == "shape_of" and not unique_colours:
        qt = "exist"
    if qt == "count":
        q, a = "how many shapes are there ?", _NUMBERS[m]
    elif qt == "count_colour":
        c = cs[pi[2] % m] if ui[11] < 0.5 else attr[1]
        q, a = f"how many {COLOURS[c]} shapes are there ?", _NUMBERS[cs.count(c)]
    elif qt == "exist":
        if ui[12] < 0.5:
            j = pi[3] % m
            kq, cq = ks[j], cs[j]
        else:
            kq, cq = attr
        yes = (kq, cq) in zip(ks, cs, strict=True)
        q, a = f"is there a {COLOURS[cq]} {SHAPES[kq]} ?", "yes" if yes else "no"
    elif qt == "colour_of":
        kq = unique_kinds[int(ui[13] * len(unique_kinds))]
        q, a = f"what colour is the {SHAPES[kq]} ?", COLOURS[cs[ks.index(kq)]]
    else:
        cq = unique_colours[int(ui[14] * len(unique_colours))]
        q, a = f"what shape is the {COLOURS[cq]} one ?", SHAPES[ks[cs.index(cq)]]
    return q, a, qt


def _metadata(scene: dict[str, np.ndarray], captions: list[str], questions: list[str],
              answers: np.ndarray, q_types: list[int]) -> dict[str, np.ndarray]:
    absent = ~scene["present"]
    return {
        "caption_text": np.array(captions), "question_text": np.array(questions),
        "answer_text": np.array(ANSWERS)[answers],
        "question_type": np.array(q_types, dtype=np.int8),
        "n_shapes": scene["n_shapes"].astype(np.int8),
        "shape_kind": np.where(absent, -1, scene["kind"]).astype(np.int8),
        "shape_colour": np.where(absent, -1, scene["colour"]).astype(np.int8),
        "shape_size": np.where(absent, -1, scene["big"]).astype(np.int8),
        "shape_x": np.where(absent, np.nan, scene["cx"]).astype(np.float32),
        "shape_y": np.where(absent, np.nan, scene["cy"]).astype(np.float32),
    }


def _info(knobs: dict[str, Any]) -> dict[str, Any]:
    return {
        "kinds": {"image": "image", "caption": "text", "question": "text"},
        "vocab": list(SHAPES_VOCAB),
        "text_source": {"caption": "caption_text", "question": "question_text"},
        "text_answer": {"question": "answer_text"},
        "class_names": {"answer": list(ANSWERS)},
        "question_types": list(QUESTION_TYPES),
        "shapes": list(SHAPES), "colours": list(COLOURS), "sizes": list(SIZES),
        "knobs": knobs,
    }


def _shape_coverage(kind: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                    r: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of shapes centred at 0; ``dx``, ``dy`` are offsets in px.

    ``kind`` (k,) picks circle (0), square (1) or triangle (2, apex up); ``dx`` is ``(k, 1, P)``,
    ``dy`` ``(k, P, 1)`` and ``r`` ``(k,)``; returns ``(k, P, P)`` float32.
    """
    r = r[:, None, None]
    kind = kind[:, None, None]
    ax = np.abs(dx)
    circle = np.sqrt(ax * ax + dy * dy) - r
    square = np.maximum(ax, np.abs(dy)) - np.float32(0.82) * r
    h = np.float32(0.75) * r  # triangle: apex (0, -r), base corners (+-r, 0.75 r)
    norm = np.sqrt(r * r + (h + r) ** 2)
    triangle = np.maximum(dy - h, ((h + r) * ax - r * (dy + r)) / norm)
    sdf = np.where(kind == 0, circle, np.where(kind == 1, square, triangle))
    return np.clip(np.float32(0.5) - sdf, 0.0, 1.0)


def _paint_shapes(img: np.ndarray, kind: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                  r: np.ndarray, rgb: np.ndarray, present: np.ndarray) -> None:
    """Paint non-overlapping shapes into ``img`` ``(n, S, S, 3)``; ``kind`` etc. are ``(n, k)``.

    Coverage is computed on a small patch around each shape and scattered into the image, so
    the cost grows with the shapes' area, not the image's.
    """
    n, size = img.shape[0], img.shape[1]
    patch = min(size, int(np.ceil(2 * r.max())) + 3)
    offs = np.arange(patch)
    cover = np.zeros((n, size, size), dtype=np.float32)
    paint = np.zeros((n, size, size, 3), dtype=np.float32)
    for k in range(kind.shape[1]):
        idx = np.flatnonzero(present[:, k])
        # patch origin, moved inside the image (the shape itself always lies inside)
        x0 = np.clip(np.floor(cx[idx, k]).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(cy[idx, k]).astype(np.int64) - patch // 2, 0, size - patch)
        dx = (x0[:, None] + offs[None, :] + 0.5 - cx[idx, k, None]).astype(np.float32)
        dy = (y0[:, None] + offs[None, :] + 0.5 - cy[idx, k, None]).astype(np.float32)
        cov = _shape_coverage(kind[idx, k], dx[:, None, :], dy[:, :, None], r[idx, k])
        rows = (y0[:, None] + offs)[:, :, None]
        cols = (x0[:, None] + offs)[:, None, :]
        cover[idx[:, None, None], rows, cols] += cov
        paint[idx[:, None, None], rows, cols] += cov[..., None] * rgb[idx, k, None, None, :]
    img *= 1 - cover[..., None]
    img += paint


def _noun_phrase(kind: int, colour: int, size: int, u: np.ndarray) -> list[str]:
    """'a [size] [colour] shape'; ``u`` holds 4 uniforms deciding what to mention."""
    words = ["a"]
    with_colour = u[0] < 0.8
    if u[1] < 0.5:
        words.append("small" if size == 0 else ("large" if u[2] < 0.6 else "big"))
    if with_colour:
        words.append(COLOURS[colour])
    words.append("shape" if with_colour and u[3] < 0.15 else SHAPES[kind])
    return words
