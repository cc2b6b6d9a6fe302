"""Tests of the ``shapes_captions`` dataset (mmlib/data/shapes_captions.py) and of the default
inputs per task of :meth:`mmlib.data.MultimodalDataset.to_tf_dataset`.

Independent references written here: a caption parser and a question answerer that work on the
raw strings and the scene graph in metadata (grid cells recomputed from the pixel centres), hue
rules for the rendered colours that do not use the generator's palette, and small scikit-learn
models on features computed here for the information structure (the caption cannot answer the
question, the image can; the caption identifies its image).
"""

from __future__ import annotations

import numpy as np
import pytest
from datahash import digest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import data
from mmlib._common import MASK_INPUT

N = 3000  # the default size, for the statistical checks
SIZE_WORDS = {"small": 0, "large": 1, "big": 1}
REL_WORDS = ("left", "right", "above", "below", "under")


@pytest.fixture(scope="module")
def ds():
    return data.load_shapes_captions(seed=0)




# ------------------------------------------------------------------------------------------
# an independent reading of the scene graph, the captions and the questions
# ------------------------------------------------------------------------------------------


def scene_of(d, i):
    """Shapes of scene i: list of dicts (slot, kind, colour, size, row, col)."""
    md, step = d.metadata, d.modalities["image"].shape[1] / 3
    return [{"slot": o, "kind": int(md["shape_kind"][i, o]),
             "colour": int(md["shape_colour"][i, o]), "size": int(md["shape_size"][i, o]),
             "row": int(md["shape_y"][i, o] // step), "col": int(md["shape_x"][i, o] // step)}
            for o in range(3) if md["shape_kind"][i, o] >= 0]


def where(a, b):
    """Where shape a lies relative to b: the grid axis with the larger offset (ties: x)."""
    dc, dr = a["col"] - b["col"], a["row"] - b["row"]
    if abs(dc) >= abs(dr):
        return "left" if dc < 0 else "right"
    return "above" if dr < 0 else "below"


def parse_caption(text):
    """(noun phrases [(size or None, kind)], relation word or None, position words or None)."""
    words = text.split()
    starts = [j for j, w in enumerate(words) if w == "a"]
    phrases = []
    for j, s in enumerate(starts):
        end = starts[j + 1] if j + 1 < len(starts) else len(words)
        size = next((SIZE_WORDS[w] for w in words[s + 1:end] if w in SIZE_WORDS), None)
        kind = next(data.SHAPES.index(w) for w in words[s + 1:end] if w in data.SHAPES)
        phrases.append((size, kind))
    between = words[starts[0]:starts[1]] if len(starts) > 1 else []
    rel = next((w for w in between if w in REL_WORDS), None)
    position = None
    if len(starts) == 1 and any(w in ("at", "on", "in") for w in words):
        position = words[next(j for j, w in enumerate(words) if w in ("at", "on", "in")) + 2:]
    return phrases, rel, position


def phrase_fits(phrase, shape):
    size, kind = phrase
    return kind == shape["kind"] and (size is None or size == shape["size"])


def caption_fits(parsed, shapes, assignment=None):
    """Does the caption describe these shapes (every shape named once, relation and position
    true)? ``assignment``: the slots the phrases name, checked instead of searched."""
    import itertools

    phrases, rel, position = parsed
    if len(phrases) != len(shapes):
        return False
    orders = [assignment] if assignment is not None else [
        [s["slot"] for s in p] for p in itertools.permutations(shapes)]
    by_slot = {s["slot"]: s for s in shapes}
    for order in orders:
        objs = [by_slot.get(o) for o in order]
        if None in objs or not all(phrase_fits(p, o) for p, o in zip(phrases, objs, strict=True)):
            continue
        if rel is not None and where(objs[0], objs[1]) != {"under": "below"}.get(rel, rel):
            continue
        if position is not None:
            r, c = objs[0]["row"], objs[0]["col"]
            want = ([["top"], [], ["bottom"]][r] + [["left"], [], ["right"]][c]) or ["middle"]
            if position != want:
                continue
        return True
    return False


def resolve(ref, shapes):
    """The one shape a question's referring expression names (asserts it is unambiguous)."""
    words = ref.split()
    if words[0] in data.SHAPES:
        hits = [s for s in shapes if s["kind"] == data.SHAPES.index(words[0])]
    elif words[0] in data.SIZES:
        hits = [s for s in shapes if s["size"] == data.SIZES.index(words[0])]
    else:
        assert words[0] == "shape"
        anchors = [s for s in shapes if s["kind"] == data.SHAPES.index(words[-1])]
        assert len(anchors) == 1, ref
        hits = [s for s in shapes if s is not anchors[0] and where(s, anchors[0]) == words[1]]
    assert len(hits) == 1, (ref, shapes)
    return hits[0]


def answer(question, shapes):
    """(answer text, referred slot or -1) of a question about these shapes."""
    w = question.split()
    assert w[-1] == "?"
    if question.startswith("how many"):
        c = data.COLOURS.index(w[2])
        return data.ANSWERS[2 + sum(s["colour"] == c for s in shapes)], -1
    if question.startswith("is there a"):
        c = data.COLOURS.index(w[3])
        return ("yes" if any(s["colour"] == c for s in shapes) else "no"), -1
    if question.startswith("what colour is the"):
        s = resolve(" ".join(w[4:-1]), shapes)
        return data.COLOURS[s["colour"]], s["slot"]
    assert question.startswith("is the") and w[-2] in data.COLOURS
    s = resolve(" ".join(w[2:-2]), shapes)
    return ("yes" if data.COLOURS[s["colour"]] == w[-2] else "no"), s["slot"]


# ------------------------------------------------------------------------------------------
# the loader: shapes, determinism, arguments
# ------------------------------------------------------------------------------------------


def test_shapes_dtypes_metadata_and_info():
    d = data.load_shapes_captions(n_samples=64, seed=3)
    assert {m: (a.shape[1:], a.dtype) for m, a in d.modalities.items()} == {
        "image": ((32, 32, 3), np.float32), "caption": ((16,), np.int32),
        "question": ((10,), np.int32)}
    assert d.kinds == {"image": "image", "caption": "text", "question": "text"}
    assert list(d.labels) == ["answer"] and d.labels["answer"].dtype == np.int32
    assert d.class_names("answer") == list(data.ANSWERS)
    assert 0 <= d.modalities["image"].min() and d.modalities["image"].max() <= 1
    assert d.info["vocab"] == list(data.SHAPES_VOCAB) and d.info["vocab"][:2] == ["<pad>", "<unk>"]
    assert d.info["task_modalities"] == {"answer": ("image", "question")}
    assert d.info["question_types"] == list(data.QUESTION_TYPES)
    md = d.metadata
    for key, shape, dtype in [("shape_kind", (3,), np.int8), ("shape_colour", (3,), np.int8),
                              ("shape_size", (3,), np.int8), ("shape_x", (3,), np.float32),
                              ("shape_y", (3,), np.float32), ("caption_objects", (3,), np.int8),
                              ("question_object", (), np.int8), ("question_type", (), np.int8),
                              ("n_shapes", (), np.int8)]:
        assert md[key].shape[1:] == shape and md[key].dtype == dtype, key
    np.testing.assert_array_equal(md["n_shapes"], (md["shape_kind"] >= 0).sum(1))
    assert np.array_equal(np.isnan(md["shape_x"]), md["shape_kind"] < 0)
    # the tokens spell the raw strings, nothing is cut at the default lengths
    assert data.detokenize(d.modalities["caption"], d.info["vocab"]) == list(md["caption_text"])
    assert data.detokenize(d.modalities["question"], d.info["vocab"]) == list(md["question_text"])
    assert (d.modalities["caption"] != 1).all() and (d.modalities["question"] != 1).all()
    np.testing.assert_array_equal(np.array(data.ANSWERS)[d.labels["answer"]], md["answer_text"])


def test_same_seed_same_bytes_and_knobs():
    a, b = (data.load_shapes_captions(n_samples=200, seed=5) for _ in range(2))
    c = data.load_shapes_captions(n_samples=200, seed=6)
    assert digest(a) == digest(b)
    assert all(not np.array_equal(a.modalities[m], c.modalities[m]) for m in a.modalities)
    m1, m2 = (data.load_shapes_captions(n_samples=200, seed=5, missing_rate=0.3)
              for _ in range(2))
    assert digest(m1) == digest(m2) != digest(a)
    present = np.stack(list(m1.masks.values()), 1)
    assert 0.6 < present.mean() < 0.8 and present.any(1).all()
    assert (m1.modalities["caption"][~m1.masks["caption"]] == 0).all()
    one = data.load_shapes_captions(n_samples=100, seed=1, max_shapes=1, image_size=48,
                                    caption_len=6)
    assert one.modalities["image"].shape == (100, 48, 48, 3)
    assert (one.metadata["n_shapes"] == 1).all() and one.modalities["caption"].shape == (100, 6)
    assert (np.abs(one.metadata["shape_x"][:, 0] - 24) < 24).all()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n_samples": 0}, ValueError, r"n_samples must be an integer >= 1, got 0"),
    ({"seed": -1}, ValueError, r"seed must be an integer >= 0"),
    ({"max_shapes": 4}, ValueError, r"max_shapes must be an integer in \[1, 3\], got 4"),
    ({"image_size": 16}, ValueError, r"image_size must be an integer in \[24, 128\], got 16"),
    ({"noise": -0.1}, ValueError, r"noise must be a number in \[0.0"),
    ({"caption_len": 2}, ValueError, r"caption_len must be an integer >= 4, got 2"),
    ({"question_len": 3}, ValueError, r"question_len must be an integer >= 4, got 3"),
    ({"missing_rate": 1.0}, ValueError, r"missing_rate must be a number in \[0.0, 1.0\)"),
    ({"max_shapes": 2.5}, TypeError, r"max_shapes must be an integer"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_shapes_captions(**{"n_samples": 10, **kwargs})


# ------------------------------------------------------------------------------------------
# what the texts say
# ------------------------------------------------------------------------------------------


def test_every_caption_describes_its_own_scene_without_colours(ds):
    md = ds.metadata
    colour_words = set(data.COLOURS)
    n_rel = n_pos = 0
    for i in range(0, N, 3):
        text, shapes = str(md["caption_text"][i]), scene_of(ds, i)
        assert not colour_words & set(text.split()), text  # the layout sketch has no paint
        parsed = parse_caption(text)
        objs = [int(o) for o in md["caption_objects"][i] if o >= 0]
        assert sorted(objs) == [s["slot"] for s in shapes]  # every shape named once
        assert caption_fits(parsed, shapes, objs), (text, shapes)
        # word-region grounding: the k-th shape word names slot caption_objects[k]
        kind_words = [w for w in text.split() if w in data.SHAPES]
        assert kind_words == [data.SHAPES[md["shape_kind"][i, o]] for o in objs]
        n_rel += parsed[1] is not None
        n_pos += parsed[2] is not None
    assert n_rel > 0.4 * N / 3 and n_pos > 0.05 * N / 3


def test_a_caption_identifies_its_scene_among_few(ds):
    """Retrieval is possible but not trivial: a caption fits its scene and a handful of others."""
    m = 400
    shapes = [scene_of(ds, j) for j in range(m)]
    counts = []
    for i in range(100):
        parsed = parse_caption(str(ds.metadata["caption_text"][i]))
        fits = [j for j in range(m) if caption_fits(parsed, shapes[j])]
        assert i in fits
        counts.append(len(fits))
    counts = np.array(counts)
    assert 2 <= np.median(counts) <= 12 and np.mean(counts == 1) < 0.3
    assert np.mean(counts <= 10) > 0.6  # most captions narrow 400 scenes down to <= 10


def test_cca_on_simple_features_retrieves_far_above_chance(ds):
    """Linear CCA (mmlib.align.CCA) between pooled foreground masks and caption words and word
    pairs: caption -> image and image -> caption Recall@1 / @10 over 1,000 held-out scenes."""
    from mmlib.align import CCA, retrieval_metrics

    n_test = 1000
    train = np.arange(N) < N - n_test
    img = ds.modalities["image"]
    fg = (img.max(-1) - img.min(-1) > 0.3).astype(float)  # painted pixels: where shapes are
    x_img = fg.reshape(N, 8, 4, 8, 4).mean((2, 4)).reshape(N, -1)
    v = len(ds.info["vocab"])
    ids = ds.modalities["caption"]
    pairs = bag_of_words(ids[:, :-1] * v + ids[:, 1:], v * v)  # word bigrams
    x_cap = np.concatenate([bag_of_words(ids, v), pairs[:, pairs[train].sum(0) >= 5]], 1)
    a, b = ((x - x[train].mean(0)) / (x[train].std(0) + 1e-6) for x in (x_img, x_cap))
    with threadpool_limits(1):
        cca = CCA(n_components=16, reg=0.1).fit(a[train], b[train])
        za, zb = cca.transform(a[~train], b[~train])
    za /= np.linalg.norm(za, axis=1, keepdims=True)
    zb /= np.linalg.norm(zb, axis=1, keepdims=True)
    r = retrieval_metrics(za @ zb.T)
    print({d: {k: round(r[d][k], 3) for k in ("R@1", "R@10")} for d in r})
    for direction in ("a2b", "b2a"):  # chance: R@1 0.001, R@10 0.01
        assert r[direction]["R@1"] >= 0.006 and r[direction]["R@10"] >= 0.06, r


def test_questions_are_about_colour_and_answers_are_right(ds):
    md = ds.metadata
    for i in range(N):
        q = str(md["question_text"][i])
        text, slot = answer(q, scene_of(ds, i))
        assert text == md["answer_text"][i], (q, scene_of(ds, i))
        assert slot == md["question_object"][i]
        assert "colour" in q.split() or set(q.split()) & set(data.COLOURS)
        assert data.QUESTION_TYPES[md["question_type"][i]] == (
            "count_colour" if q.startswith("how many") else "exist_colour"
            if q.startswith("is there") else "colour_of" if q.startswith("what colour")
            else "verify_colour")
    # every referring form occurs: by kind, by size and by a relation to a unique kind
    refs = [str(q) for q in md["question_text"] if str(q).startswith(("what colour", "is the"))]
    for form in (" circle ", " large shape ", " shape left of the ", " shape below the "):
        assert sum(form in q for q in refs) > 20, form


def test_answers_are_balanced_against_the_question_alone(ds):
    md = ds.metadata
    ans = md["answer_text"]
    qtype = np.array(data.QUESTION_TYPES)[md["question_type"]]
    shares = np.bincount(md["question_type"], minlength=4) / N
    assert shares.min() > 0.18  # four types, none rare
    for t in ("exist_colour", "verify_colour"):
        assert abs(np.mean(ans[qtype == t] == "yes") - 0.5) < 0.05, t
    assert abs(np.mean(ans[qtype == "count_colour"] == "zero") - 0.5) < 0.05
    colours = ans[qtype == "colour_of"]
    freq = np.array([np.mean(colours == c) for c in data.COLOURS])
    assert freq.min() > 0.13 and freq.max() < 0.27
    # the caption says how many shapes there are, which must not shift the yes / no answers
    n_shapes = md["n_shapes"]
    for t in ("exist_colour", "verify_colour"):
        for k in (1, 2, 3):
            sel = (qtype == t) & (n_shapes == k)
            assert abs(np.mean(ans[sel] == "yes") - 0.5) < 0.1, (t, k)


def test_the_rendered_colours_are_where_the_shapes_are(ds):
    img, md = ds.modalities["image"], ds.metadata
    rules = {"red": lambda p: p[0] - max(p[1], p[2]) > 0.3,
             "green": lambda p: p[1] - max(p[0], p[2]) > 0.2,
             "blue": lambda p: p[2] - max(p[0], p[1]) > 0.2,
             "yellow": lambda p: min(p[0], p[1]) - p[2] > 0.35,
             "purple": lambda p: min(p[0], p[2]) - p[1] > 0.15}
    for i in range(400):
        for o in range(3):
            if md["shape_kind"][i, o] >= 0:
                x, y = int(md["shape_x"][i, o]), int(md["shape_y"][i, o])
                assert rules[data.COLOURS[md["shape_colour"][i, o]]](img[i, y, x])


# ------------------------------------------------------------------------------------------
# the information structure (the designed weaknesses), with models fitted here
# ------------------------------------------------------------------------------------------


def bag_of_words(ids, vocab_size):
    out = np.zeros((len(ids), vocab_size))
    np.add.at(out, (np.repeat(np.arange(len(ids)), ids.shape[1]), ids.ravel()), 1)
    out[:, 0] = 0
    return out


def hue_areas(img):
    """Pixels of each of the five hue families (rules independent of the palette)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    masks = [(r > 0.6) & (g < 0.4) & (b < 0.4), (g > 0.5) & (r < 0.4) & (b < 0.4),
             (b > 0.7) & (r < 0.4), (r > 0.7) & (g > 0.6) & (b < 0.35),
             (r > 0.45) & (b > 0.6) & (g < 0.45)]
    return np.stack([m.reshape(len(img), -1).sum(1) for m in masks], 1).astype(float)


def products(a, b):
    """All pairwise products of the columns of a and b: (n, da * db)."""
    return np.einsum("ni,nj->nij", a, b).reshape(len(a), -1)


def lr_accuracy(x, y, train):
    """Seeded logistic regression on standardised features; test accuracy."""
    keep = x[train].std(0) > 0
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, tol=1e-3, max_iter=500,
                                                               random_state=0))
    with threadpool_limits(1):
        model.fit(x[train][:, keep], y[train])
        return float(np.mean(model.predict(x[~train][:, keep]) == y[~train]))


def test_the_caption_cannot_answer_but_the_image_can(ds):
    """Image-free: question and caption words and all their products (any word pair); with the
    image: the question words times the area of each hue (what FiLM / bilinear fusion form)."""
    y = ds.labels["answer"]
    train = np.arange(N) < 0.7 * N
    v = len(ds.info["vocab"])
    question = bag_of_words(ds.modalities["question"], v)
    caption = np.minimum(bag_of_words(ds.modalities["caption"], v), 1)
    hues = hue_areas(ds.modalities["image"]) / 100
    q_only = lr_accuracy(question, y, train)
    q_cap = lr_accuracy(np.concatenate([question, caption, products(question, caption)], 1), y,
                        train)
    q_img = lr_accuracy(np.concatenate([question, hues, products(question, hues)], 1), y, train)
    print(f"question {q_only:.3f}, question + caption {q_cap:.3f}, question + image hues "
          f"{q_img:.3f}")
    assert q_cap < q_only + 0.03
    assert q_img > q_cap + 0.2


# ------------------------------------------------------------------------------------------
# default inputs per task (MultimodalDataset.to_tf_dataset)
# ------------------------------------------------------------------------------------------


def test_to_tf_dataset_feeds_the_vqa_task_image_and_question_unless_asked():
    d = data.load_shapes_captions(n_samples=40, seed=2).drop_modalities(0.3, seed=0)
    for kwargs in ({"tasks": "answer"}, {}, {"tasks": ["answer"]}):
        inputs, labels = next(iter(d.to_tf_dataset(batch_size=8, **kwargs)))
        assert set(inputs) == {"image", "question"}, kwargs
    inputs, labels = next(iter(d.to_tf_dataset(batch_size=8, with_masks=True)))
    assert set(inputs) == {"image", "question", MASK_INPUT}
    np.testing.assert_array_equal(  # mask columns: the fed modalities, sorted
        inputs[MASK_INPUT].numpy(),
        np.stack([d.masks["image"][:8], d.masks["question"][:8]], 1).astype(np.float32))
    np.testing.assert_array_equal(labels.numpy(), d.labels["answer"][:8])
    # an explicit list wins
    inputs, _ = next(iter(d.to_tf_dataset(batch_size=8, modalities=["caption", "image",
                                                                       "question"])))
    assert set(inputs) == {"image", "question", "caption"}
    np.testing.assert_array_equal(inputs["caption"].numpy(), d.modalities["caption"][:8])
    inputs, _ = next(iter(d.to_tf_dataset(batch_size=8, modalities=["caption"])))
    assert set(inputs) == {"caption"}
    # subsets and splits keep the default
    part = d.split((0.5, 0.5), seed=0)[0]
    assert set(next(iter(part.to_tf_dataset(batch_size=4)))[0]) == {"image", "question"}


def _toy(info):
    n = 6
    return data.MultimodalDataset(
        "toy", {"a": np.zeros((n, 2), np.float32), "b": np.ones((n, 3), np.float32),
                "c": np.ones((n, 1), np.float32)},
        {"t1": np.arange(n) % 2, "t2": np.arange(n) % 3}, info=info)


def test_task_modalities_union_order_and_fallback():
    d = _toy({"task_modalities": {"t1": ("c", "a"), "t2": ["b"]}})
    assert list(next(iter(d.to_tf_dataset(batch_size=6, tasks="t1")))[0]) == ["a", "c"]
    assert list(next(iter(d.to_tf_dataset(batch_size=6, tasks="t2")))[0]) == ["b"]
    both = next(iter(d.to_tf_dataset(batch_size=6, tasks=["t1", "t2"])))[0]
    assert list(both) == ["a", "b", "c"]
    partial = _toy({"task_modalities": {"t1": ("a",)}})  # t2 has no default: all modalities
    assert list(next(iter(partial.to_tf_dataset(batch_size=6)))[0]) == ["a", "b", "c"]
    assert list(next(iter(partial.to_tf_dataset(batch_size=6, tasks="t1")))[0]) == ["a"]
    assert list(next(iter(_toy({}).to_tf_dataset(batch_size=6, tasks="t1")))[0]) == [
        "a", "b", "c"]


@pytest.mark.parametrize(("defaults", "error", "match"), [
    ({"t3": ("a",)}, ValueError, r"info\['task_modalities'\] key must be one of \['t1', 't2'\], "
                                 r"got 't3'"),
    ({"t1": ("a", "z")}, ValueError, r"info\['task_modalities'\]\['t1'\] must be one of "
                                     r"\['a', 'b', 'c'\], got 'z'"),
    ({"t1": "a"}, ValueError, r"must be a non-empty list of modality names, got 'a'"),
    ({"t1": ()}, ValueError, r"must be a non-empty list of modality names, got \(\)"),
    (["t1"], TypeError, r"info\['task_modalities'\] must be a dict task -> modality names, got "
                        r"list"),
])
def test_bad_task_modalities_are_rejected(defaults, error, match):
    with pytest.raises(error, match=match):
        _toy({"task_modalities": defaults})
