"""``shapes_captions``: rendered scenes of coloured shapes with a caption and a question / answer
pair (the running alignment and visual-question-answering example).

Steps of :func:`load_shapes_captions`: draw the scene graph (:func:`_scene`) → render the image
(:func:`_render`) → write the caption from the colourless layout (:func:`_caption`) and a question
about colour with its answer (:func:`_question`) → the container. The data card is in
``datasets/README.md``.

Information design: the caption and the question see different attributes of the scene. The
caption is written from the scene's *layout sketch* (outlines, no paint): it names every shape's
kind, often its size, and where the shapes lie (a spatial relation, or the grid position of a
lone shape) — enough to pick its image out of many (retrieval) — but never a colour. Every
question asks about colour (how many red shapes, is there a red shape, what colour is the circle,
is the large shape red), so the caption cannot answer it, and the VQA task needs the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_float, check_int
from mmlib.data._build import check_common, finish
from mmlib.data.container import MultimodalDataset
from mmlib.data.text import tokenize

__all__ = ["ANSWERS", "COLOURS", "QUESTION_TYPES", "RELATIONS", "SHAPES", "SHAPES_VOCAB",
           "SIZES", "load_shapes_captions"]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
"""Shape kinds of ``shapes_captions`` (``metadata["shape_kind"]`` indexes this)."""
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple")
"""Colour names of ``shapes_captions`` (``metadata["shape_colour"]`` indexes this)."""
_RGB = np.array([[0.90, 0.16, 0.14], [0.18, 0.70, 0.22], [0.18, 0.36, 0.95],
                 [0.96, 0.86, 0.12], [0.66, 0.26, 0.82]], dtype=np.float32)
SIZES: tuple[str, ...] = ("small", "large")
"""Size names of ``shapes_captions`` (``metadata["shape_size"]`` indexes this)."""
ANSWERS: tuple[str, ...] = ("no", "yes", "zero", "one", "two", "three", *COLOURS)
"""Answer classes of the ``shapes_captions`` task ``answer`` (every question is about colour)."""
QUESTION_TYPES: tuple[str, ...] = ("count_colour", "exist_colour", "colour_of", "verify_colour")
"""Question templates of ``shapes_captions`` (``metadata["question_type"]`` indexes this):
"how many red shapes are there ?", "is there a red shape ?", "what colour is the circle ?",
"is the circle red ?"."""
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
"""Spatial relations of captions and questions: where shape A lies relative to shape B, along
the axis on which their grid cells differ most (ties: horizontal)."""
_NUMBERS = ("zero", "one", "two", "three")
_REL_WORDS = {"left": (("left", "of"), ("to", "the", "left", "of")),
              "right": (("right", "of"), ("to", "the", "right", "of")),
              "above": (("above",),), "below": (("below",), ("under",))}
_QUESTION_REL_WORDS = {"left": "left of", "right": "right of", "above": "above",
                       "below": "below"}
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
SHAPES_VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", "a", "there", "is", "an", "image", "with", "and", "the", "left", "right",
    "of", "to", "above", "below", "under", "small", "large", "big", *COLOURS, *SHAPES, "shape",
    "how", "many", "shapes", "are", "what", "colour", "one", "?", "zero", "two", "three", "yes",
    "no", "at", "on", "in", "top", "bottom", "middle")
"""Token vocabulary of the ``shapes_captions`` captions and questions (0 = padding, 1 = unknown)."""
_TASK_MODALITIES = {"answer": ("image", "question")}


def load_shapes_captions(n_samples: int = 3000, seed: int = 0, *, image_size: int = 32,
                         max_shapes: int = 3, noise: float = 0.03, caption_len: int = 16,
                         question_len: int = 10, missing_rate: float = 0.0
                         ) -> MultimodalDataset:
    """Rendered scenes of 1-3 coloured shapes with a colour-free caption and a colour question.

    The alignment (retrieval, word-region attention) and reasoning (FiLM / attention VQA)
    example. Each scene has 1 to ``max_shapes`` shapes (circle, square, triangle; five colours;
    small or large) in distinct cells of a 3x3 grid with jitter, on a grey background with pixel
    noise.

    *Caption* — written from the scene's layout sketch, which has outlines but no paint: it names
    every shape by kind and often size ("a small circle to the left of a large square and a
    triangle", "a big square is above a circle", "there is a small triangle at the top left"),
    never by colour. A caption fits its own scene (and usually a handful of others), so it
    identifies its image for retrieval.

    *Question* — always about colour, one of four types (:data:`QUESTION_TYPES`): how many shapes
    of a colour, is there a shape of a colour, what colour is a referred shape, is a referred
    shape of a colour. A referred shape is named by its unique kind ("the circle"), its unique
    size ("the large shape") or a relation to a unique kind ("the shape left of the square").
    Answers are balanced against the question alone: yes / no 50 : 50, a count is "zero" half
    the time, a colour is uniform. So the image alone does not know what is asked, the question
    alone knows only the answer prior, and the caption knows the layout but not one colour: only
    the image read *as the question asks* answers it. In the spirit of CLEVR (Johnson et al.,
    2017, "CLEVR: A Diagnostic Dataset for Compositional Language and Elementary Visual
    Reasoning", CVPR), in 2-D.

    Args:
        n_samples: number of scenes.
        seed: seed of everything random.
        image_size: side of the square RGB image (>= 24).
        max_shapes: 1, 2 or 3 shapes at most per scene.
        noise: standard deviation of the Gaussian pixel noise.
        caption_len, question_len: token sequence lengths (padded with 0; the grammar needs 16
            and 10 tokens at most, shorter lengths cut the texts).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``image`` ``(n, S, S, 3)`` float32 in [0, 1],
        ``caption`` ``(n, caption_len)`` int32 and ``question`` ``(n, question_len)`` int32 token
        ids (vocabulary ``info["vocab"]`` = :data:`SHAPES_VOCAB`); task ``answer`` (int32 index
        into ``info["class_names"]["answer"]`` = :data:`ANSWERS`), whose default inputs are
        ``info["task_modalities"]["answer"] = ("image", "question")`` (what
        :meth:`MultimodalDataset.to_tf_dataset` feeds unless told otherwise); metadata: raw
        strings ``caption_text``, ``question_text``, ``answer_text`` (unicode arrays),
        ``question_type`` ``(n,)`` int8 (index into :data:`QUESTION_TYPES`), ``n_shapes``
        ``(n,)`` int8, the scene graph ``shape_kind``, ``shape_colour``, ``shape_size`` (``(n,
        3)`` int8, -1 = no shape), ``shape_x``, ``shape_y`` (``(n, 3)`` float32 pixel centres,
        NaN = no shape), and the grounding of the texts: ``caption_objects`` ``(n, 3)`` int8 (the
        shape slot each noun phrase of the caption names, in the order of mention, so the k-th
        shape word of the caption lies at ``shape_x``, ``shape_y`` of slot
        ``caption_objects[:, k]``; -1 = fewer phrases) and ``question_object`` ``(n,)`` int8
        (the slot of the shape a ``colour_of`` / ``verify_colour`` question refers to; -1 for
        the other types).
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
    texts = _texts(scene, r_text)

    knobs = {"n_samples": n_samples, "seed": seed, "image_size": size, "max_shapes": max_shapes,
             "noise": noise, "caption_len": caption_len, "question_len": question_len,
             "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "shapes_captions",
        {"image": img, "caption": tokenize(texts["caption_text"], SHAPES_VOCAB, caption_len),
         "question": tokenize(texts["question_text"], SHAPES_VOCAB, question_len)},
        {"answer": texts["answer"]}, metadata=_metadata(scene, texts), info=_info(knobs))
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


def _texts(scene: dict[str, np.ndarray], gen: np.random.Generator) -> dict[str, Any]:
    """Captions, questions, answers (int32 ``(n,)``), question types and the shape slots the
    texts name, for every scene.

    All random numbers are drawn first, as arrays; the per-scene work is plain Python on lists
    (NumPy per-element calls would be slower).
    """
    n = len(scene["n_shapes"])
    u = gen.random((n, 16)).tolist()
    pick = gen.integers(0, 720, size=(n, 8)).tolist()  # 720 is divisible by 1..6
    q_type = gen.integers(len(QUESTION_TYPES), size=n).tolist()
    kind_l, colour_l, big_l, row_l, col_l = (scene[k].tolist() for k in
                                             ("kind", "colour", "big", "row", "col"))
    n_l = scene["n_shapes"].tolist()
    out: dict[str, list[Any]] = {k: [] for k in ("caption_text", "question_text", "answer",
                                                 "question_type", "caption_objects",
                                                 "question_object")}
    for i in range(n):
        m = n_l[i]
        ks, cs, ss = kind_l[i][:m], colour_l[i][:m], big_l[i][:m]
        rows, cols = row_l[i][:m], col_l[i][:m]
        caption, objects = _caption(ks, ss, rows, cols, u[i], pick[i])
        q, a, qt, obj = _question(QUESTION_TYPES[q_type[i]], ks, cs, ss, rows, cols, u[i],
                                  pick[i])
        out["caption_text"].append(caption)
        out["caption_objects"].append(objects + [-1] * (3 - len(objects)))
        out["question_text"].append(q)
        out["answer"].append(ANSWERS.index(a))
        out["question_type"].append(QUESTION_TYPES.index(qt))
        out["question_object"].append(obj)
    out["answer"] = np.array(out["answer"], dtype=np.int32)
    return out


def _relation(rows: list[int], cols: list[int], a: int, b: int) -> str:
    """Where shape ``a`` lies relative to shape ``b``: the axis on which their grid cells differ
    most decides (ties: horizontal), e.g. ``"left"`` = ``a`` is left of ``b``."""
    dcol, drow = cols[a] - cols[b], rows[a] - rows[b]
    if abs(dcol) >= abs(drow):
        return "left" if dcol < 0 else "right"
    return "above" if drow < 0 else "below"


def _position(row: int, col: int) -> list[str]:
    """The grid cell of a lone shape in words: 'at the top left', 'on the right', 'in the
    middle'."""
    vertical = ("top", None, "bottom")[row]
    horizontal = ("left", None, "right")[col]
    if vertical is None and horizontal is None:
        return ["in", "the", "middle"]
    if vertical is None:
        return ["on", "the", horizontal]
    return ["at", "the", vertical] + ([horizontal] if horizontal else [])


def _caption(ks: list[int], ss: list[int], rows: list[int], cols: list[int], ui: list[float],
             pi: list[int]) -> tuple[str, list[int]]:
    """The caption of one scene with shapes ``ks`` (kinds) and ``ss`` (sizes) in grid cells
    ``rows``, ``cols``, and the shape slots its noun phrases name (in order). Colours are never
    mentioned; every shape is. ``ui``, ``pi`` are the scene's uniforms and random picks."""
    m = len(ks)
    t = pi[0] % m
    if m == 1:
        words = [[], ["there", "is"], ["an", "image", "with"]][int(ui[9] * 3)]
        words = words + _noun_phrase(ks[t], ss[t], ui[0], ui[1])
        if ui[10] < 0.7:
            words += _position(rows[t], cols[t])
        return " ".join(words), [t]
    ref = (t + 1 + pi[1] % (m - 1)) % m
    first, second = t, ref
    if ui[8] < 0.8:
        rel = _relation(rows, cols, t, ref)
        template = int(ui[9] * 4)
        if template == 3:  # "a square is right of a circle" instead of "a circle left of ..."
            first, second, rel = ref, t, _INVERSE[rel]
        phrases = _REL_WORDS[rel]
        rel_words = list(phrases[int(ui[10] * len(phrases))])
        words = ((["there", "is"] if template == 1 else [])
                 + _noun_phrase(ks[first], ss[first], ui[0], ui[1])
                 + (["is"] if template in (2, 3) else []) + rel_words
                 + _noun_phrase(ks[second], ss[second], ui[2], ui[3]))
    else:
        words = (_noun_phrase(ks[first], ss[first], ui[0], ui[1]) + ["and"]
                 + _noun_phrase(ks[second], ss[second], ui[2], ui[3]))
    objects = [first, second]
    if m == 3:  # the third shape is named, not placed
        third = 3 - first - second
        words += ["and"] + _noun_phrase(ks[third], ss[third], ui[4], ui[5])
        objects.append(third)
    return " ".join(words), objects


def _noun_phrase(kind: int, size: int, u_size: float, u_word: float) -> list[str]:
    """'a [size] kind' (no colour: the caption comes from the layout sketch)."""
    words = ["a"]
    if u_size < 0.6:
        words.append("small" if size == 0 else ("large" if u_word < 0.6 else "big"))
    words.append(SHAPES[kind])
    return words


def _referents(ks: list[int], ss: list[int], rows: list[int], cols: list[int]
               ) -> list[list[tuple[str, int]]]:
    """Ways to name one shape of the scene unambiguously, by form: ``[by kind, by size, by
    relation]``, each a list of ``(words, slot)`` ("circle", "large shape", "shape left of the
    square"; the anchor of a relation is a shape of a unique kind)."""
    m = len(ks)
    by_kind = [(SHAPES[k], ks.index(k)) for k in range(3) if ks.count(k) == 1]
    by_size = [(f"{SIZES[s]} shape", ss.index(s)) for s in range(2) if ss.count(s) == 1]
    by_rel = []
    for k in range(3):
        if ks.count(k) != 1:
            continue
        anchor = ks.index(k)
        where: dict[str, list[int]] = {}
        for o in range(m):
            if o != anchor:
                where.setdefault(_relation(rows, cols, o, anchor), []).append(o)
        by_rel += [(f"shape {_QUESTION_REL_WORDS[r]} the {SHAPES[k]}", where[r][0])
                   for r in RELATIONS if len(where.get(r, ())) == 1]
    return [by_kind, by_size, by_rel]


def _question(qt: str, ks: list[int], cs: list[int], ss: list[int], rows: list[int],
              cols: list[int], ui: list[float], pi: list[int]) -> tuple[str, str, str, int]:
    """``(question, answer, question type, referred slot or -1)`` of one scene for the drawn
    type ``qt``; a referring type without an unambiguous referent becomes ``count_colour`` or
    ``exist_colour``. Answers are balanced against the question alone (see the loader)."""
    m = len(ks)
    if qt in ("colour_of", "verify_colour"):
        forms = [f for f in _referents(ks, ss, rows, cols) if f]
        if not forms:
            qt = "count_colour" if ui[11] < 0.5 else "exist_colour"
    present = sorted(set(cs))
    absent = [c for c in range(len(COLOURS)) if c not in present]
    yes = ui[12] < 0.5
    if qt == "count_colour":  # a colour of the scene (weighted by its shapes) or "zero"
        c = cs[pi[2] % m] if yes else absent[pi[3] % len(absent)]
        return f"how many {COLOURS[c]} shapes are there ?", _NUMBERS[cs.count(c)], qt, -1
    if qt == "exist_colour":
        c = present[pi[2] % len(present)] if yes else absent[pi[3] % len(absent)]
        return f"is there a {COLOURS[c]} shape ?", "yes" if yes else "no", qt, -1
    form = forms[pi[4] % len(forms)]
    words, obj = form[pi[5] % len(form)]
    if qt == "colour_of":
        return f"what colour is the {words} ?", COLOURS[cs[obj]], qt, obj
    c = cs[obj] if yes else (cs[obj] + 1 + pi[6] % 4) % len(COLOURS)
    return f"is the {words} {COLOURS[c]} ?", "yes" if yes else "no", qt, obj


def _metadata(scene: dict[str, np.ndarray], texts: dict[str, Any]) -> dict[str, np.ndarray]:
    absent = ~scene["present"]
    return {
        "caption_text": np.array(texts["caption_text"]),
        "question_text": np.array(texts["question_text"]),
        "answer_text": np.array(ANSWERS)[texts["answer"]],
        "question_type": np.array(texts["question_type"], dtype=np.int8),
        "n_shapes": scene["n_shapes"].astype(np.int8),
        "shape_kind": np.where(absent, -1, scene["kind"]).astype(np.int8),
        "shape_colour": np.where(absent, -1, scene["colour"]).astype(np.int8),
        "shape_size": np.where(absent, -1, scene["big"]).astype(np.int8),
        "shape_x": np.where(absent, np.nan, scene["cx"]).astype(np.float32),
        "shape_y": np.where(absent, np.nan, scene["cy"]).astype(np.float32),
        "caption_objects": np.array(texts["caption_objects"], dtype=np.int8),
        "question_object": np.array(texts["question_object"], dtype=np.int8),
    }


def _info(knobs: dict[str, Any]) -> dict[str, Any]:
    return {
        "kinds": {"image": "image", "caption": "text", "question": "text"},
        "vocab": list(SHAPES_VOCAB),
        "text_source": {"caption": "caption_text", "question": "question_text"},
        "text_answer": {"question": "answer_text"},
        "class_names": {"answer": list(ANSWERS)},
        "task_modalities": dict(_TASK_MODALITIES),
        "question_types": list(QUESTION_TYPES),
        "relations": list(RELATIONS),
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
