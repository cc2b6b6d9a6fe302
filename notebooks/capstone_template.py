# %% [markdown] slideshow={"slide_type": "slide"}
# # Capstone · Your multimodal fusion project (template)
#
# *A notebook skeleton for your own project: a data card, baselines, fusion, a robustness check,
# an interpretation and an export — each a section with a small working cell — and the final
# checklist of measured values.*
#
# **How to use it.**
# 1. Copy this notebook (e.g. to `capstone_<your name>.ipynb`) and run it once as it is: it runs
#    end to end on the course dataset `av_digits` (digit images + spoken digits) in well under a
#    minute on a CPU.
# 2. Replace the cells marked **SWAP** with your data, features and models; keep the rest.
#    Everything downstream reads `ds`, `TASK` and the `features` function, so a new dataset
#    needs only those.
# 3. Keep every claim an `assert` on a measured value, tune on the validation split only, and
#    fill the checklist at the end.
#
# Notebook 12 (*Outlook*) describes the checklist; each section links the course notebook that
# teaches its method in depth.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 0 · Set-up

# %%
import mmlib

info = mmlib.setup_notebook(seed=0)

# %%
import tempfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmlib import data, fusion
from mmlib.preprocess.signal import log_mel_spectrogram

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Data card (checklist item 1)
#
# **SWAP** — load *your* data as a `mmlib.data.MultimodalDataset` (modalities, labels, masks,
# metadata, info; `datasets/README.md` shows how the course datasets are built) and name the
# task. Split once, with a fixed seed, stratified by the label: training, validation (for every
# choice you make) and test (touched once, at the end).

# %%
ds = data.load("av_digits", n_samples=1200, seed=0)  # SWAP: your loader
TASK = "digit"  # SWAP: your label
MODALITIES = sorted(ds.modalities)  # sorted: the course's mask-column order
train, val, test = ds.split((0.6, 0.2, 0.2), seed=0, stratify=TASK)
print(ds.describe())

# %% [markdown]
# The card's numbers: sizes, the majority-class share (the accuracy of ignoring every input),
# and the share of samples with each modality present.

# %%
y = {"train": train.labels[TASK], "val": val.labels[TASK], "test": test.labels[TASK]}
card = {"samples (train / val / test)": f"{len(train)} / {len(val)} / {len(test)}",
        "classes": int(len(np.unique(ds.labels[TASK]))),
        "majority share (test)": round(float(np.bincount(y["test"]).max() / len(test)), 3)}
card |= {f"{m} present": round(float(ds.masks[m].mean()), 3) for m in MODALITIES}
pd.Series(card).to_frame("data card")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Features and unimodal baselines (checklist item 2)
#
# **SWAP** — one feature vector per modality. The defaults are deliberately simple: images
# averaged over 2×2 pixel blocks, audio as the mean, standard deviation and maximum of each
# log-mel band over time. A sceptical reader's first question is how well each modality does
# *alone* with a simple model: a standardised logistic regression per modality.

# %%
def features(part, modality: str) -> np.ndarray:
    """(n, d) float32 features of one modality of a dataset part."""  # SWAP: your features
    x = part.modalities[modality]
    if part.kinds[modality] == "image":
        n, h, w, c = x.shape
        return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).reshape(n, -1)
    if part.kinds[modality] == "audio":
        mel = log_mel_spectrogram(x, sample_rate=part.info["sample_rate"])
        return np.concatenate([mel.mean(1), mel.std(1), mel.max(1)], axis=1)
    return x.reshape(len(x), -1).astype("float32")


X = {name: {m: features(part, m) for m in MODALITIES}
     for name, part in (("train", train), ("val", val), ("test", test))}


def baseline(modality: str, split: str) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    model.fit(X["train"][modality], y["train"])
    return model.score(X[split][modality], y[split])


unimodal = {m: baseline(m, "test") for m in MODALITIES}
print({m: round(a, 3) for m, a in unimodal.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Fusion (checklist item 3)
#
# **SWAP** — your fusion model. The default is early fusion (`mmlib.fusion.EarlyFusion`:
# concatenation) of standardised features under a small dense head, trained with early stopping
# on the validation split. Notebook 05 compares every fusion layer of the course.

# %%
MEAN = {m: X["train"][m].mean(0) for m in MODALITIES}
STD = {m: X["train"][m].std(0) + 1e-6 for m in MODALITIES}


def standardised(split: str, drop: str | None = None) -> dict[str, np.ndarray]:
    """Standardised features of a split; modality `drop` replaced by its training mean (0)."""
    return {m: np.zeros_like(X[split][m]) if m == drop else (X[split][m] - MEAN[m]) / STD[m]
            for m in MODALITIES}


mmlib.env.set_seed(0)
inputs = {m: keras.Input((X["train"][m].shape[1],), name=m) for m in MODALITIES}
hidden = keras.layers.Dropout(0.3, seed=0)(fusion.EarlyFusion()(inputs))
hidden = keras.layers.Dense(64, activation="relu")(hidden)
model = keras.Model(inputs, keras.layers.Dense(int(card["classes"]))(hidden))
model.compile(optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"],
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
model.fit(standardised("train"), y["train"], validation_data=(standardised("val"), y["val"]),
          epochs=30, batch_size=128, callbacks=[stop], verbose=0)


def accuracy(inputs: dict[str, np.ndarray], split: str = "test") -> float:
    logits = keras.ops.convert_to_numpy(model(inputs, training=False))
    return float(np.mean(np.argmax(logits, -1) == y[split]))


fused = accuracy(standardised("test"))
margin = fused - max(unimodal.values())
print(f"fused {fused:.3f}; best single modality {max(unimodal.values()):.3f}; "
      f"margin {margin:+.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Robustness: a missing modality (checklist item 4)
#
# **SWAP / extend** — the default check removes one modality at a time (its features replaced by
# the training mean) and measures the fused model. Notebook 07 adds corruption sweeps,
# adversarial examples and training with modality dropout.

# %%
missing = {m: accuracy(standardised("test", drop=m)) for m in MODALITIES}
print({f"without {m}": round(a, 3) for m, a in missing.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Interpretation: which modality does the model use? (checklist item 5)
#
# **SWAP / extend** — permutation importance per modality: shuffle one modality across the test
# samples (breaking its pairing with the rest) and measure the drop in accuracy. Notebook 07 has
# integrated gradients, Shapley values and calibration.

# %%
rng = np.random.default_rng(0)
order = rng.permutation(len(test))
importance = {m: fused - accuracy({k: v[order] if k == m else v
                                   for k, v in standardised("test").items()})
              for m in MODALITIES}
print({m: round(d, 3) for m, d in importance.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Deployment: export and size (checklist item 6)
#
# **SWAP / extend** — save the model in the Keras format, reload it, check that it predicts the
# same and record its size. Notebook 08 covers LiteRT quantisation, serving signatures and
# drift monitoring.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "project_model.keras"
    model.save(path)
    size_kb = path.stat().st_size / 1024
    reloaded = keras.models.load_model(path, custom_objects={"EarlyFusion": fusion.EarlyFusion})
    same = np.allclose(reloaded(standardised("test")), model(standardised("test")), atol=1e-5)
print(f"{model.count_params():,} weights, {size_kb:.0f} KB on disk; reloaded model agrees: "
      f"{same}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · The checklist
#
# Every row is filled from a value measured above. For your project, keep the asserts that
# state your claims — these are the default project's.

# %%
checklist = pd.DataFrame([
    ("1. data card", f"{card['samples (train / val / test)']} samples, {card['classes']} "
     f"classes, majority share {card['majority share (test)']}"),
    ("2. unimodal baselines", ", ".join(f"{m} {a:.3f}" for m, a in unimodal.items())),
    ("3. fusion", f"early fusion {fused:.3f}, margin over the best single {margin:+.3f}"),
    ("4. robustness", ", ".join(f"without {m} {a:.3f}" for m, a in missing.items())),
    ("5. interpretation", ", ".join(f"{m} −{d:.3f}" for m, d in importance.items())),
    ("6. deployment", f"{model.count_params():,} weights, {size_kb:.0f} KB, reload ok: {same}"),
], columns=["item", "measured"]).set_index("item")
checklist

# %%
assert margin > 0.05, "fusion beats the best single modality"
assert all(a < fused for a in missing.values()), "losing a modality costs accuracy"
assert all(d > 0 for d in importance.values()), "the model uses every modality"
assert same, "the exported model predicts the same"
