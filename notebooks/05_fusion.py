# %% [markdown] slideshow={"slide_type": "slide"}
# # 05 · Fusion: early, late and intermediate
#
# *Every fusion layer of the course, measured side by side under one budget — and the seed
# article's sample code, run as written and then corrected.*
#
# **Learning objectives.** After this notebook you can
# 1. tell early, late and intermediate fusion apart, in math and in Keras code, and name the seed
#    article's MCNN and MRNN as instances of a fusion function $f_\theta$;
# 2. benchmark fusion methods fairly: the same frozen encoders, the same head, the same training
#    budget, several seeds, with parameters and training time in one table;
# 3. explain why low-rank fusion (LMF) is tensor fusion (TFN) with a rank constraint, and what the
#    rank costs in parameters and accuracy;
# 4. use FiLM and cross-modal attention where fusion must form an *interaction* (visual question
#    answering), and check the result per question type against the best question-only answer;
# 5. read TensorFlow code critically: find and fix the eight bugs of the seed's sample code.
#
# **Prerequisites.** Notebooks 00 and 03 (encoders); Keras `Model`, `fit`, losses; the outer
# product and the singular value decomposition.
#
# **Estimated CPU time.** About 110 seconds on a 2-core CPU (about 50 small models are trained here,
# from scratch; measured: the median wall time in a fresh kernel,
# [benchmarks](../docs/benchmarks.md)); no GPU, no internet needed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Set-up

# %%
import mmlib

info = mmlib.setup_notebook(seed=0)

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from mmlib import data, encoders, fusion, robust
from mmlib.preprocess.signal import log_mel_spectrogram

tf.get_logger().setLevel("ERROR")  # we build one small model per method on purpose: no
# "frequent retracing" warnings from TensorFlow about it

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Where to fuse: early, late, intermediate
#
# Multimodal fusion (多模态融合) turns the modalities $x_1, \dots, x_M$ of one sample into one
# decision. The seed article writes it as one network, $H = F_\theta(X, Y, Z)$ (§4.1). *Where* in
# that network the modalities meet is the first design choice:
#
# | | formula | what it can learn |
# |---|---|---|
# | **early fusion** (早期融合) | $\hat y = g_\theta([x_1; x_2])$ | one model on the concatenated features |
# | **late fusion** (晚期融合) | $\log \hat p(y) = \sum_m w_m \log p_m(y \mid x_m)$ | each modality decides alone; the decisions are combined |
# | **intermediate fusion** (中间融合) | $\hat y = g_\theta\big(f_\theta(e_1(x_1), e_2(x_2))\big)$ | learned features $e_m$, combined by a fusion layer $f_\theta$ that may form interactions |
#
# With equal weights $w_m = 1/M$, late fusion decides for the class with the largest product of
# the per-modality probabilities (the *product rule*) — Bayes' decision when the modalities are
# independent given the class and the classes are balanced, since then
# $p(y \mid x_1, x_2) \propto p(y \mid x_1)\, p(y \mid x_2) / p(y)$.
#
# The seed's §3.2.3 names two fusion models, MCNN (multimodal CNN) and MRNN (multimodal RNN);
# its §4.2 writes $H = f_\theta(X A^\top, Y)$. Both are **instances of $f_\theta$**: an MCNN is an
# $f_\theta$ made of convolutions over the modalities' feature maps (e.g. text-conditioned
# convolutions, as FiLM in section 8), an MRNN an $f_\theta$ made of a recurrent network that
# reads both modalities' sequences (as the cross-modal transformer reads them with attention).
# The course's `mmlib.fusion` has one Keras layer per $f_\theta$; early and late fusion are two
# of them:

# %%
mmlib.course.show_source(fusion.EarlyFusion.call)

# %%
mmlib.course.show_source(fusion.LateFusion.call)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · One dataset, two encoders, frozen features
#
# `av_digits` pairs a handwritten digit (partly hidden by a grey square, noisy pixels) with the
# same digit spoken at −8 dB SNR in pink noise (the data card is in `datasets/README.md`). The
# two corruptions are independent, so each modality fails on different samples. We use a seeded,
# stratified 70 / 30 split, as the card's probes do.

# %%
ds = data.load("av_digits", seed=0)
train, test = ds.split((0.7, 0.3), seed=0, stratify="digit")
y_train, y_test = train.labels["digit"], test.labels["digit"]
print(len(train), "training and", len(test), "test pairs;", ds.modalities["image"].shape[1:],
      "images,", ds.modalities["audio"].shape[1:], "waveform samples at 8 kHz")

# %% [markdown]
# **Inputs, made small for a CPU.** Images are averaged over 2×2 pixel blocks (28×28 → 14×14:
# the upsampled 8×8 digits lose nothing, the pixel noise halves); audio becomes a log-mel
# spectrogram (32 bands, a frame every 10 ms) averaged over 4 frames × 2 bands (77×32 → 19×16)
# and standardised per cell with the training statistics.

# %%
def image_input(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28, 1) pixels in [0, 1] -> (n, 14, 14, 1) 2x2 block means."""
    return images.reshape(len(images), 14, 2, 14, 2, 1).mean(axis=(2, 4))


def pooled_log_mel(waves: np.ndarray) -> np.ndarray:
    """(n, 6400) waveforms -> (n, 19, 16) log-mel, 4 frames x 2 bands averaged."""
    spec = log_mel_spectrogram(waves, sample_rate=8000)[:, :76]  # 77 frames -> 76
    return spec.reshape(len(spec), 19, 4, 16, 2).mean(axis=(2, 4))


_train_mel = pooled_log_mel(train.modalities["audio"])
AUDIO_MEAN, AUDIO_STD = _train_mel.mean(axis=0), _train_mel.std(axis=0)


def audio_input(waves: np.ndarray) -> np.ndarray:
    """(n, 6400) waveforms -> (n, 19, 16) log-mel, standardised with the training statistics."""
    return (pooled_log_mel(waves) - AUDIO_MEAN) / AUDIO_STD

# %% [markdown]
# **Two encoders, trained once.** A small CNN per modality from `mmlib.encoders` (notebook 03),
# each with its own 10-way softmax head. We train them *side by side* in one Keras model with two
# outputs and two losses: no weight is shared, so each loss only reaches its own encoder and this
# is exactly two independent trainings, in one `fit` call. Every batch has the same size
# (`drop_remainder=True`), so Keras traces the training step once.

# %%
def batches(inputs: dict, labels, batch_size: int = 64) -> tf.data.Dataset:
    """Shuffled (seed 0), equal-size batches, repeated: every model sees the same order."""
    pairs = tf.data.Dataset.from_tensor_slices((inputs, labels)).cache()
    return pairs.shuffle(len(labels), seed=0).batch(batch_size, drop_remainder=True).repeat()


X_TRAIN = {"image": image_input(train.modalities["image"]),
           "audio": audio_input(train.modalities["audio"])}
X_TEST = {"image": image_input(test.modalities["image"]),
          "audio": audio_input(test.modalities["audio"])}
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# %%
mmlib.env.set_seed(0)
ENCODERS = {
    "image": encoders.image_cnn((14, 14, 1), filters=(16, 32), embed_dim=32, dropout=0.3, seed=0,
                                name="image_encoder"),
    "audio": encoders.audio_cnn((19, 16), filters=(16, 32), embed_dim=32, dropout=0.3, seed=1,
                                name="audio_encoder"),
}
raw = {m: keras.Input(X_TRAIN[m].shape[1:], name=m) for m in ENCODERS}
both = keras.Model(raw, {m: keras.layers.Dense(10, name=f"{m}_digit")(ENCODERS[m](raw[m]))
                         for m in ENCODERS})
both.compile(optimizer=keras.optimizers.Adam(3e-3), loss=LOSS, steps_per_execution=300)
start = time.perf_counter()
both.fit(batches(X_TRAIN, {m: y_train for m in ENCODERS}), steps_per_epoch=300, verbose=0,
         shuffle=False)  # 300 steps of 64 = about 15 passes over the 1,258 training pairs
print(f"encoders trained in {time.perf_counter() - start:.0f} s")

# %% tags=["nbval-check-output"]
logits = both(X_TEST)
encoder_accuracy = {m: float(np.mean(np.argmax(logits[m], -1) == y_test)) for m in ENCODERS}
print({m: round(a, 3) for m, a in encoder_accuracy.items()})

# %% [markdown]
# For comparison, the card's best single-modality probes reach 0.774 (image) and 0.760 (audio),
# boosted trees on engineered features. From now on the encoders are **frozen**:
# every fusion method below gets the same 32-number feature per modality — and, for the
# cross-modal transformer, the same encoders' last feature maps as token sequences (16 image
# regions × 32 channels; 5 audio time steps × 128).

# %%
def encode(modality: str, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Frozen features of one modality's encoder: the vector (n, 32) and the token sequence."""
    x = image_input(raw) if modality == "image" else audio_input(raw)
    enc = ENCODERS[modality]
    grid_layer = enc.get_layer("pool1" if modality == "image" else "time_major")
    vector, grid = keras.Model(enc.input, [enc.output, grid_layer.output])(x)
    grid = keras.ops.convert_to_numpy(grid)
    return {modality: keras.ops.convert_to_numpy(vector),
            f"{modality}_tokens": grid.reshape(len(x), -1, grid.shape[-1])}


F_TRAIN = {k: v for m in ENCODERS for k, v in encode(m, train.modalities[m]).items()}
F_TEST = {k: v for m in ENCODERS for k, v in encode(m, test.modalities[m]).items()}
print({k: v.shape[1:] for k, v in F_TRAIN.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · The fusion layers
#
# With features $z_1, z_2 \in \mathbb{R}^{d}$ ($d = 32$) and $\tilde z = [z; 1]$:
#
# | layer | $f_\theta(z_1, z_2)$ | paper |
# |---|---|---|
# | `EarlyFusion` | $[z_1; z_2]$ | — |
# | `TensorFusion` | $\operatorname{vec}(\tilde z_1 \otimes \tilde z_2) \in \mathbb{R}^{(d+1)^2}$ | Zadeh et al., 2017 |
# | `LowRankFusion` | $\sum_{r=1}^{R} w_r\,(\tilde z_1 W_1^{(r)}) \odot (\tilde z_2 W_2^{(r)}) + b$ | Liu et al., 2018 |
# | `GatedFusion` | $g \odot \tanh(z_1 W_1) + (1 - g) \odot \tanh(z_2 W_2)$, $g = \sigma([z_1; z_2] W_g)$ | Arevalo et al., 2017 |
# | `FiLM` | $\gamma(z_2) \odot z_1 + \beta(z_2)$ | Perez et al., 2018 |
# | `BilinearFusion` | $\tanh(z_1 U) \odot \tanh(z_2 V)$ | Kim et al., 2017 |
# | `AttentionFusion` | $\sum_m \alpha_m h_m$, $\alpha = \operatorname{softmax}_m(v^\top \tanh(h_m W_a))$ | Bahdanau et al., 2015 |
# | `ProjectedFusion` | $[z_1 A^\top; z_2]$, the seed's $H = f_\theta(X A^\top, Y)$ | seed §4.2 |
# | `CrossModalTransformer` | $\operatorname{MHA}(Q{=}Z_\alpha, K{=}V{=}X_\beta)$ + feed-forward, on sequences | Tsai et al., 2019 |
# | `LateFusion` | mean / learned weights / stacking of the per-modality decisions | Wolpert, 1992 |
#
# Tensor fusion (张量融合) keeps every product $z_{1i} z_{2j}$ (and, through the constant 1, each
# $z$ itself), so a `Dense(k)` after it has $k (d_1 + 1)(d_2 + 1)$ weights. For one output unit $u$
# it computes a bilinear form $y_u = \tilde z_1^\top K_u \tilde z_2$; low-rank fusion (低秩融合)
# restricts each $K_u$ to rank $R$, $K_u = \sum_r w_r W_1^{(r)}[:, u]\, W_2^{(r)}[:, u]^\top$, at a
# cost of $R\,k\,(d_1 + d_2 + 2)$ weights and without ever forming the $(d+1)^2$ tensor:

# %%
mmlib.course.show_source(fusion.LowRankFusion.call)

# %% [markdown]
# **Exercise 1.** Write `lmf_params(rank, units, dims)`: the number of weights of
# `LowRankFusion(units, rank)` on modalities of sizes `dims` — the factors
# $W_m^{(r)} \in \mathbb{R}^{(d_m + 1) \times k}$ of every modality and rank, the rank weights
# $w$ and the bias $b$. The check compares it with Keras' count for ranks 1, 4 and 16.

# %% tags=["solution"]
def lmf_params(rank: int, units: int, dims: tuple[int, ...]) -> int:
    return rank * units * sum(d + 1 for d in dims) + rank + units

# %%
def keras_count(rank: int) -> int:
    layer = fusion.LowRankFusion(32, rank)
    layer.build([(None, 32), (None, 32)])
    return layer.count_params()


mmlib.check.equal("Exercise 1", [lmf_params(r, 32, (32, 32)) for r in (1, 4, 16)],
                  [keras_count(r) for r in (1, 4, 16)])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · The benchmark: one table
#
# **One budget for every method.** Each method is a *head* on the frozen features: its fusion
# layer, then the same `Dense(32, ReLU) → Dense(10)`; trained with Adam (learning rate 0.005) for
# 150 steps of 128 samples (about 15 passes over the training set) on the same batches in the
# same order; three seeds each (the seed sets the initial weights). Late fusion combines the
# trained unimodal heads' log-probabilities: `mean` needs no training, `weighted` learns two
# weights, `stacking` a linear layer on both decisions.

# %%
SEEDS, STEPS, BATCH = (0, 1, 2), 150, 128


def mlp_head(z, seed: int):
    """The same head for every method: Dense(32, ReLU) -> Dense(10) digit logits."""
    init = keras.initializers.HeNormal(seed)
    z = keras.layers.Dense(32, activation="relu", kernel_initializer=init, name="hidden")(z)
    return keras.layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
                              name="logits")(z)


def feature_inputs(names: list[str]) -> dict:
    return {n: keras.Input(F_TRAIN[n].shape[1:], name=n) for n in names}

# %%
def unimodal(m: str):
    def make(seed: int) -> keras.Model:
        x = feature_inputs([m])
        return keras.Model(x, mlp_head(x[m], seed))
    return make


def intermediate(layer):
    """A head whose fusion layer is layer(seed), on the two feature vectors."""
    def make(seed: int) -> keras.Model:
        x = feature_inputs(["audio", "image"])
        return keras.Model(x, mlp_head(layer(seed)(x), seed))
    return make

# %% [markdown]
# The cross-modal transformer reads sequences: the 5 audio steps (queries) attend to the 16 image
# regions (keys and values); its output is averaged over time before the head. Late fusion reads
# the *trained* unimodal heads of the same seed, frozen.

# %%
def cross_modal(seed: int) -> keras.Model:
    x = feature_inputs(["audio_tokens", "image_tokens"])
    z = fusion.CrossModalTransformer(num_heads=2, key_dim=16, ff_dim=64, seed=seed)(
        x["audio_tokens"], x["image_tokens"])
    return keras.Model(x, mlp_head(keras.layers.GlobalAveragePooling1D()(z), seed))


TRAINED: dict[tuple[str, int], list] = {}  # (method, seed) -> trained weights


def late(mode: str):
    def make(seed: int) -> keras.Model:
        x, decisions = feature_inputs(["audio", "image"]), []
        for m in ("audio", "image"):  # the mask-column order: sorted names
            head = unimodal(m)(seed)
            head.set_weights(TRAINED[(f"{m} only", seed)])
            head.trainable = False
            decisions.append(keras.layers.Activation("log_softmax")(head({m: x[m]})))
        units = {"units": 10} if mode == "stacking" else {}
        return keras.Model(x, fusion.LateFusion(mode, seed=seed, **units)(decisions))
    return make

# %%
METHODS = {  # name -> (family, head builder); s is the seed
    "image only": ("unimodal", unimodal("image")),
    "audio only": ("unimodal", unimodal("audio")),
    "early: concatenation": ("early", intermediate(lambda s: fusion.EarlyFusion())),
    "late: mean": ("late", late("mean")),
    "late: weighted": ("late", late("weighted")),
    "late: stacking": ("late", late("stacking")),
    "tensor (TFN)": ("intermediate", intermediate(lambda s: fusion.TensorFusion())),
    "low-rank (LMF, R=4)": ("intermediate",
                            intermediate(lambda s: fusion.LowRankFusion(32, 4, seed=s))),
    "gated (GMU)": ("intermediate", intermediate(lambda s: fusion.GatedFusion(32, seed=s))),
    "FiLM (audio → image)": ("intermediate",
                             intermediate(lambda s: fusion.FiLM("image", seed=s))),
    "bilinear (MLB)": ("intermediate",
                       intermediate(lambda s: fusion.BilinearFusion(32, seed=s))),
    "attention over modalities": ("intermediate",
                                  intermediate(lambda s: fusion.AttentionFusion(32, seed=s))),
    "seed's H = [XAᵀ, Y]": ("intermediate", intermediate(
        lambda s: fusion.ProjectedFusion("concat", project="image", seed=s))),
    "cross-modal transformer": ("intermediate", cross_modal),
}

# %% [markdown]
# **Noise grid for section 7.** While the heads are trained we also score them on copies of the
# test set with extra noise in one or both modalities — Gaussian pixel noise of standard deviation
# σ on the images, white noise at a given SNR on the waveforms (`mmlib.robust`) — through the same
# frozen encoders. Only the evaluation changes; nothing is retrained.

# %%
IMAGE_SIGMAS, AUDIO_SNRS = (0.0, 0.2, 0.4, 0.6), (np.inf, 20.0, 10.0, 0.0)
noisy_images = {sigma: encode("image", robust.image_gaussian_noise(
    test.modalities["image"], sigma, seed=1)) for sigma in IMAGE_SIGMAS}
noisy_audio = {snr: encode("audio", robust.audio_additive_noise(  # SNR = 40 dB - 50 dB x severity
    test.modalities["audio"], 0.0 if snr == np.inf else (40 - snr) / 50, seed=2))
    for snr in AUDIO_SNRS}
NOISY = [(sigma, snr) for sigma in IMAGE_SIGMAS for snr in AUDIO_SNRS]  # (0, inf) first: clean
GRID = {k: np.concatenate([{**noisy_images[a], **noisy_audio[b]}[k] for a, b in NOISY])
        for k in F_TEST}

# %%
def accuracies(model: keras.Model, features: dict, labels: np.ndarray) -> np.ndarray:
    """Accuracy on each block of len(labels) rows of features (one block per noise setting)."""
    logits = keras.ops.convert_to_numpy(model({k: features[k] for k in model.input}))
    right = np.argmax(logits, -1).reshape(-1, len(labels)) == labels
    return right.mean(axis=1)

# %%
def train_method(name: str, make) -> list[dict]:
    """Train one head per seed; the model is compiled once and re-initialised for each seed
    (fresh weights from make(seed), Adam's state reset), so Keras traces its step only once."""
    model = make(SEEDS[0])
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=LOSS, steps_per_execution=STEPS)
    rows = []
    for seed in SEEDS:
        if seed != SEEDS[0]:
            model.set_weights(make(seed).get_weights())
        for v in model.optimizer.variables:
            if v.name != "learning_rate":
                v.assign(tf.zeros_like(v))
        start = time.perf_counter()
        if model.trainable_weights:
            model.fit(batches({k: F_TRAIN[k] for k in model.input}, y_train, BATCH),
                      steps_per_epoch=STEPS, verbose=0, shuffle=False)
        TRAINED[(name, seed)] = model.get_weights()
        rows.append({"method": name, "seed": seed, "seconds": time.perf_counter() - start,
                     "params": model.count_params(), "grid": accuracies(model, GRID, y_test)})
    return rows

# %%
start = time.perf_counter()
runs = pd.DataFrame([row for name, (_, make) in METHODS.items()
                     for row in train_method(name, make)])
runs["family"] = runs["method"].map({n: f for n, (f, _) in METHODS.items()})
runs["accuracy"] = runs["grid"].map(lambda g: g[0])  # block 0: no added noise
print(f"{len(runs)} heads trained and scored in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# **The table.** Test accuracy (mean ± standard deviation over the three seeds), the head's
# parameters (the frozen encoders are the same for all and not counted; late fusion counts its
# frozen unimodal heads) and the training time of one seed (wall time of `fit`, mean of
# the second and third seed — the first also traces the step; it varies with the machine's load).

# %%
table = runs.groupby("method", sort=False).agg(
    family=("family", "first"), accuracy=("accuracy", "mean"), std=("accuracy", "std"),
    params=("params", "first"), seconds=("seconds", lambda s: s.iloc[1:].mean()))
table.style.format({"accuracy": "{:.3f}", "std": "± {:.3f}", "seconds": "{:.2f}",
                    "params": "{:,}"}).bar(subset=["accuracy"], vmin=0.7, vmax=1.0)

# %% tags=["nbval-check-output"]
print(table[["accuracy", "std", "params"]].round(3).to_string())

# %% [markdown]
# **Did fusion help, and by how much?** The data card's target is that fusion beats the best
# single modality by at least 0.08 (its probes measured +0.125: boosted trees, image 0.774 →
# fused 0.899). The sceptic's unimodal baseline here is the best of *all* unimodal models we
# trained: the frozen-feature heads and the end-to-end encoders.

# %%
best_fusion = table[table["family"] != "unimodal"]["accuracy"].idxmax()
best_single = max(table.loc[["image only", "audio only"], "accuracy"].max(),
                  *encoder_accuracy.values())
margin = table.loc[best_fusion, "accuracy"] - best_single
print(f"best fusion: {best_fusion} {table.loc[best_fusion, 'accuracy']:.3f}; best single "
      f"modality {best_single:.3f}; margin {margin:+.3f}")
assert margin >= 0.08, "fusion must beat the best single modality by the card's margin"

# %% [markdown]
# More readings of the table, each checked:
#
# * **Every** fusion method beats both unimodal heads, whatever its family.
# * The parameter-free **late mean** (the product rule) is within 0.02 of the best method: the two
#   modalities are corrupted independently, so the digit's posterior is close to the product of
#   the two unimodal posteriors — there is no interaction for a fancier $f_\theta$ to find.
# * Tensor fusion pays for its outer product: its head has more weights than any other, more than
#   three times the low-rank head's, for no better accuracy.
# * **Stacking** is the weakest late fusion: it learns its combiner on the *training* pairs, where
#   the unimodal heads are more accurate than on new data (checked below), so it learns to trust
#   them too much. Classic stacking fits the combiner on held-out predictions instead.

# %%
fused = table[table["family"] != "unimodal"]
assert fused["accuracy"].min() > table.loc[["image only", "audio only"], "accuracy"].max()
assert table.loc["late: mean", "accuracy"] >= fused["accuracy"].max() - 0.02
assert table["params"].idxmax() == "tensor (TFN)"
assert table.loc["tensor (TFN)", "params"] > 3 * table.loc["low-rank (LMF, R=4)", "params"]
assert table.loc["tensor (TFN)", "accuracy"] <= table.loc["low-rank (LMF, R=4)", "accuracy"] + 0.02
assert table.loc["late: stacking", "accuracy"] == table.query("family == 'late'")["accuracy"].min()

# %%
def head_of(method: str, seed: int = 0) -> keras.Model:
    """The trained head of a method and seed (weights kept by train_method)."""
    model = METHODS[method][1](seed)
    model.set_weights(TRAINED[(method, seed)])
    return model


for m in ("image", "audio"):
    head = head_of(f"{m} only")
    on_train, on_test = accuracies(head, F_TRAIN, y_train)[0], accuracies(head, F_TEST, y_test)[0]
    print(f"{m} head: training pairs {on_train:.3f}, test pairs {on_test:.3f}")
    assert on_train > on_test + 0.05

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Tensor versus low-rank fusion
#
# How much rank does fusion need? Two views of the same question:
#
# * **trained LMF heads** at ranks 1 and 4 (rank 4 from the table), three seeds each;
# * **truncated TFN**: each trained TFN head's $K_u$ replaced by its best rank-$R$ approximation
#   (truncated SVD, Eckart–Young), which *is* an LMF layer —
#   `fusion.low_rank_from_tensor_fusion` builds it — evaluated without any retraining. At full
#   rank $R = d + 1 = 33$ it must reproduce the TFN head exactly.

# %%
mmlib.course.show_source(fusion.low_rank_from_tensor_fusion)

# %%
lmf_runs = train_method("low-rank (LMF, R=1)",
                        intermediate(lambda s: fusion.LowRankFusion(32, 1, seed=s)))
runs = pd.concat([runs, pd.DataFrame(lmf_runs).assign(
    family="intermediate", accuracy=lambda d: d["grid"].map(lambda g: g[0]))])

# %%
def truncated_tfn_accuracy(seed: int, rank: int) -> float:
    """Test accuracy of seed's trained TFN head with its tensor weights truncated to rank R."""
    tfn = head_of("tensor (TFN)", seed)
    hidden = tfn.get_layer("hidden")
    lmf = fusion.low_rank_from_tensor_fusion(hidden.kernel, hidden.bias, (32, 32), rank)
    z = keras.ops.relu(lmf([F_TEST["audio"], F_TEST["image"]]))  # sorted order: audio, image
    return float(np.mean(np.argmax(tfn.get_layer("logits")(z), -1) == y_test))


RANKS = (1, 2, 4, 8, 16, 24, 33)
truncated = pd.DataFrame([{"rank": r, "seed": s, "accuracy": truncated_tfn_accuracy(s, r)}
                          for r in RANKS for s in SEEDS])

# %%
tfn_acc = runs[runs["method"] == "tensor (TFN)"].set_index("seed")["accuracy"]
full = truncated[truncated["rank"] == 33].set_index("seed")["accuracy"]
assert np.allclose(full, tfn_acc), "at full rank the truncated TFN is the TFN"
lmf = {r: runs[runs["method"] == f"low-rank (LMF, R={r})"]["accuracy"] for r in (1, 4)}
print("trained LMF by rank:", {r: round(float(a.mean()), 3) for r, a in lmf.items()},
      "| TFN:", round(float(tfn_acc.mean()), 3))

# %%
def lmf_head_params(rank: int) -> int:
    """Weights of an LMF(32 units, rank R) head: Keras' count of the layer + the MLP head."""
    return keras_count(rank) + (32 * 32 + 32) + (32 * 10 + 10)


fig, (ax_p, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
ranks = np.arange(1, 34)
ax_p.plot(ranks, [lmf_head_params(r) for r in ranks], label="low-rank head (LMF)")
ax_p.axhline(table.loc["tensor (TFN)", "params"], color="black", ls="--", label="tensor head (TFN)")
ax_p.set(xlabel="rank R", ylabel="weights of the head", ylim=(0, None),
         title="Parameters grow linearly with the rank")
ax_p.legend(loc="lower right")
mean_trunc = truncated.groupby("rank")["accuracy"].agg(["mean", "std"])
ax_a.errorbar(mean_trunc.index, mean_trunc["mean"], mean_trunc["std"], marker="o", capsize=3,
              label="trained TFN, truncated to rank R")
ax_a.errorbar(list(lmf), [a.mean() for a in lmf.values()], [a.std() for a in lmf.values()],
              marker="s", ls="none", capsize=4, label="LMF trained at rank R")
ax_a.axhline(tfn_acc.mean(), color="black", ls="--", label="TFN (full tensor)")
ax_a.set(xlabel="rank R (log scale)", ylabel="test accuracy", xscale="log",
         title="Accuracy: trained at low rank vs truncated")
ax_a.set_xticks(RANKS, [str(r) for r in RANKS])
ax_a.minorticks_off()
ax_a.legend(loc="lower right")
fig.tight_layout()

# %% [markdown]
# Reading the plot (means over three seeds, checked below): an LMF head *trained* at rank 1 is
# already within 0.02 of the full TFN, while *cutting* a trained TFN to rank 1 or 2 loses far more —
# trained freely, the TFN spreads what it learned over many directions of its weight tensor; LMF
# is trained to put it into a few. The truncated TFN needs about half the full rank (16 of 33) to
# come within 0.02 of the TFN — and at rank 16 a low-rank head has as many weights as the tensor
# head. The savings come from *training* at a low rank (rank 1: a ninth of the weights), not from
# compressing a trained tensor.

# %%
assert lmf[1].mean() >= tfn_acc.mean() - 0.02
assert mean_trunc.loc[1, "mean"] < lmf[1].mean() - 0.2
assert mean_trunc.loc[2, "mean"] < tfn_acc.mean() - 0.15
assert mean_trunc.loc[16, "mean"] >= tfn_acc.mean() - 0.02
assert abs(lmf_head_params(16) / table.loc["tensor (TFN)", "params"] - 1) < 0.01
assert lmf_head_params(1) < table.loc["tensor (TFN)", "params"] / 9

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · Noise in one modality
#
# **Widget.** Drag the noise added to the images (σ) and to the audio (SNR) and watch every
# method's test accuracy; the black ticks are the accuracies without added noise and the dashed
# line the better unimodal head at this setting. All settings were scored above, so dragging is
# instant.

# %%
grid = pd.DataFrame([
    {"method": r.method, "family": r.family, "image_noise": sigma, "audio_snr": snr,
     "accuracy": acc} for r in runs.itertuples()
    for (sigma, snr), acc in zip(NOISY, r.grid, strict=True)])
grid = grid.groupby(["method", "family", "image_noise", "audio_snr"], sort=False,
                    as_index=False)["accuracy"].mean()
mmlib.widgets.fusion_noise_explorer(grid[grid["method"].isin(METHODS)])

# %% [markdown]
# Two experiments to try, each checked below:
#
# * **Image noise** (σ = 0.6, audio clean): the image head drops towards 0.5, yet early, late
#   and gated fusion stay above the *audio* head: they lean on the modality that still works.
# * **Audio noise** (0 dB SNR, image clean): the audio head falls to chance (0.1) — and every
#   fusion method falls far below the image head alone. Trained on pairs whose audio was always
#   usable, the heads keep trusting audio features that are now noise, and nothing tells them the
#   audio is broken. Training with corrupted or missing modalities (modality dropout) and a
#   presence mask is the cure: notebooks 06 and 07.

# %%
at = grid.set_index(["method", "image_noise", "audio_snr"])["accuracy"]
assert at[("image only", 0.6, np.inf)] < 0.6
for method in ("early: concatenation", "late: mean", "gated (GMU)"):
    assert at[(method, 0.6, np.inf)] > at[("audio only", 0.6, np.inf)], method
assert at[("audio only", 0.0, 0.0)] < 0.2
for method, (family, _) in METHODS.items():
    if family != "unimodal":
        assert at[(method, 0.0, 0.0)] < at[("image only", 0.0, 0.0)] - 0.3, method

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · Visual question answering: FiLM and attention
#
# In `av_digits` the modalities are redundant: each carries the digit, fusion averages out their
# independent noise. Visual question answering (视觉问答, VQA) is the opposite: in
# `shapes_captions` every question asks about a colour ("how many red shapes are there ?", "is the
# circle red ?") and the answers are balanced against the question, so neither the image nor the
# question answers it alone — only the image **read as the question asks**. That is an
# interaction: the answer's scores are not a sum $g(x_{\text{image}}) + h(x_{\text{question}})$ of
# an image term and a question term. FiLM (the question sets a scale and shift $\gamma, \beta$ of
# every image channel) and cross-modal attention (question words attend to image regions) form
# such interactions.

# %%
vqa = data.load("shapes_captions", seed=0)
vqa_train, vqa_test = vqa.split((0.7, 0.3), seed=0, stratify="answer")
answers = vqa.class_names("answer")
q_types = vqa.info["question_types"]


def vqa_inputs(part) -> dict:
    """Images averaged over 2x2 pixel blocks (32x32 -> 16x16); question token ids."""
    img = part.modalities["image"]
    img = img.reshape(len(img), 16, 2, 16, 2, 3).mean(axis=(2, 4))
    return {"image": img, "question": part.modalities["question"]}

# %% [markdown]
# **The strongest question-only answer.** From the question alone, the best rule is to give each
# exact question its most frequent answer (the Bayes rule for the question); estimated on the
# training scenes, it is the baseline to beat, per question type.

# %%
def question_only(train_part, test_part) -> np.ndarray:
    """Most frequent training answer of each exact question (global majority if unseen)."""
    keys = [q.tobytes() for q in train_part.modalities["question"]]
    table_ = pd.DataFrame({"q": keys, "a": train_part.labels["answer"]})
    best = table_.groupby("q")["a"].agg(lambda a: a.value_counts().idxmax())
    majority = int(np.bincount(train_part.labels["answer"]).argmax())
    return np.array([best.get(q.tobytes(), majority) for q in test_part.modalities["question"]])


q_only = question_only(vqa_train, vqa_test)

# %% [markdown]
# **Two VQA models with the same image part.** Image: a 3×3 convolution (16 channels) and 2×2
# pooling → an 8×8 grid of region features. FiLM modulates the region grid with $\gamma, \beta$
# computed from a question vector (`encoders.text_cnn`); the cross-modal transformer lets the
# question's tokens (`encoders.PositionalEmbedding`: token + position, padding masked) attend to
# the 64 regions.

# %%
def image_regions(seed: int):
    image = keras.Input((16, 16, 3), name="image")
    regions = keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                                  kernel_initializer=keras.initializers.HeNormal(seed))(image)
    return image, keras.layers.MaxPooling2D(2)(regions)  # (8, 8, 16)


def answer_head(z, seed: int):
    z = keras.layers.Dense(64, activation="relu",
                           kernel_initializer=keras.initializers.HeNormal(seed))(z)
    return keras.layers.Dense(len(answers))(z)

# %%
def question_input():
    return keras.Input((10,), dtype="int32", name="question")  # token ids, 0 = padding


def film_vqa(seed: int) -> keras.Model:
    (image, regions), question = image_regions(seed), question_input()
    condition = encoders.text_cnn(48, 10, embed_dim=16, filters=16, kernel_sizes=(1, 2),
                                  seed=seed)(question)  # (batch, 32)
    h = fusion.FiLM(target="regions", seed=seed)({"regions": regions, "question": condition})
    h = keras.layers.Conv2D(32, 1, activation="relu")(keras.layers.ReLU()(h))
    pooled = [keras.layers.GlobalAveragePooling2D()(h), keras.layers.GlobalMaxPooling2D()(h)]
    z = keras.layers.Concatenate()([*pooled, condition])
    return keras.Model({"image": image, "question": question}, answer_head(z, seed))


def attention_vqa(seed: int) -> keras.Model:
    (image, regions), question = image_regions(seed), question_input()
    words = encoders.PositionalEmbedding(48, 10, 32, seed=seed)(question)  # (10, 32), masked
    z = fusion.CrossModalTransformer(num_heads=1, key_dim=16, ff_dim=32, seed=seed)(
        words, keras.layers.Reshape((64, 16))(regions))
    z = keras.layers.GlobalAveragePooling1D()(z)  # mean over the real words
    return keras.Model({"image": image, "question": question}, answer_head(z, seed))

# %%
VQA_STEPS = 300  # 9 passes over 2,100 training scenes in batches of 64
vqa_x, vqa_x_test = vqa_inputs(vqa_train), vqa_inputs(vqa_test)
vqa_pred = {"question only": q_only}
for name, build in (("FiLM", film_vqa), ("cross-modal attention", attention_vqa)):
    mmlib.env.set_seed(0)
    model = build(0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=LOSS,
                  steps_per_execution=VQA_STEPS)
    model.fit(batches(vqa_x, vqa_train.labels["answer"]), steps_per_epoch=VQA_STEPS, verbose=0,
              shuffle=False)
    vqa_pred[name] = np.argmax(model(vqa_x_test), -1)

# %% tags=["nbval-check-output"]
kind = vqa_test.metadata["question_type"]
y_vqa = vqa_test.labels["answer"]
per_type = pd.DataFrame({name: [np.mean((p == y_vqa)[kind == k]) for k in range(len(q_types))]
                         + [np.mean(p == y_vqa)] for name, p in vqa_pred.items()},
                        index=[*q_types, "all"]).round(3)
print(per_type.to_string())

# %% [markdown]
# One test scene of each question type, with the answers of the three models:

# %%
fig, axes = plt.subplots(1, len(q_types), figsize=(10, 4.2))
short = {"question only": "question only", "FiLM": "FiLM", "cross-modal attention": "attention"}
for ax, k in zip(axes, range(len(q_types)), strict=True):
    i = int(np.flatnonzero(kind == k)[0])
    said = "\n".join(f"{short[name]}: {answers[p[i]]}" for name, p in vqa_pred.items())
    mmlib.viz.draw_image(ax, vqa_test.modalities["image"][i])
    question = vqa_test.metadata["question_text"][i].replace(" ?", "?")
    ax.set_title(f"{question}\ntrue answer: {answers[y_vqa[i]]}\n{said}", fontsize=8.5)
fig.tight_layout()

# %% [markdown]
# Both fusion models answer far better than the strongest question-only answer, overall and on
# every question type: they read the colours the question asks about. For comparison, the data
# card measured 0.674 for boosted trees on engineered image and question features and 0.451 for a
# neural probe that concatenates the two encodings under a dense head — in the card's words, a
# head that adds up per-modality evidence cannot form the question × image interaction.

# %%
for name in ("FiLM", "cross-modal attention"):
    assert per_type.loc["all", name] >= per_type.loc["all", "question only"] + 0.2, name
    assert (per_type[name] > per_type["question only"]).all(), name

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · Sidebar: the seed article's sample code, run as written
#
# Section 5.2 of the seed article (深度学习在多模态融合中的应用) gives a TensorFlow image–text
# model and its training and evaluation loops. We run it **as written** — only blank lines differ
# (to fit a cell) and `# noqa` markers are added for the linter; the Chinese comments say
# "image feature extraction", "text feature extraction", "feature alignment" (特征对齐) and
# "feature fusion" (特征融合). It never defines `train_dataset` / `test_dataset`; its loop
# unpacks each batch as `x, y` and scores `loss_fn(y, logits)`, so `y` is the label, and we give
# it batches of (image, label) from `shapes_captions`. The traceback mode is set to show only
# each error's type and message.

# %%
# %xmode Minimal

# %%
import tensorflow as tf
from tensorflow.keras import layers


class MultimodalModel(tf.keras.Model):
    def __init__(self, image_dim, text_dim, output_dim):
        super(MultimodalModel, self).__init__()  # noqa: UP008
        # 图像特征提取
        self.image_conv = layers.Conv2D(64, (3, 3), activation='relu', input_shape=(32, 32, 3))
        self.image_pool = layers.MaxPooling2D((2, 2))
        self.image_flatten = layers.Flatten()
        # 文本特征提取
        self.text_embedding = layers.Embedding(text_dim, 256)
        self.text_lstm = layers.LSTM(256)
        # 特征对齐
        self.align = layers.Dense(image_dim)
        # 特征融合
        self.fuse = layers.Dense(output_dim)
    def call(self, inputs):
        x, y = inputs
        # 图像特征提取
        x = self.image_conv(x)
        x = self.image_pool(x)
        x = self.image_flatten(x)
        # 文本特征提取
        y = self.text_embedding(y)
        y = self.text_lstm(y)
        y = tf.squeeze(y, axis=1)
        # 特征对齐
        a = self.align(x)
        # 特征融合
        h = self.fuse(tf.concat([a, y], axis=1))
        return h

# %% [markdown]
# **Bug 1 — `input_shape` on a sub-layer.** Keras 3 ignores `input_shape` on a layer that is not
# the first of a `Sequential` model and warns about it; the subclassed model gets its shapes from
# its first call. We turn the warning into an error to show it, then silence it for the rest.

# %% tags=["raises-exception"]
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("error")
    MultimodalModel(image_dim=32, text_dim=1000, output_dim=10)

# %%
warnings.filterwarnings("ignore", module="keras")  # also Keras' notes when a call crashes
scenes = vqa_train.subset(np.arange(200))  # 200 scenes, batches of 16 as in the seed
train_dataset = tf.data.Dataset.from_tensor_slices(
    (scenes.modalities["image"], scenes.labels["answer"])).batch(16)
test_dataset = train_dataset

# %%
from tensorflow.keras import optimizers

# 定义模型
model = MultimodalModel(image_dim=32, text_dim=1000, output_dim=10)
# 定义损失函数
loss_fn = tf.keras.losses.CategoricalCrossentropy(from_logits=True)
# 定义优化器
optimizer = optimizers.Adam()
# 定义训练过程
def train_epoch(model, dataset, batch_size, optimizer):
    model.train()
    epoch_loss = 0
    for batch in tqdm(dataset, desc='Training'):  # noqa: F821
        x, y = batch
        with tf.GradientTape() as tape:
            logits = model(x, y)
            loss = loss_fn(y, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # noqa: B905
        epoch_loss += loss.numpy()
    return epoch_loss / len(dataset)
# 定义评估过程
def evaluate(model, dataset, batch_size):
    model.eval()
    preds, labels = [], []
    with tf.no_grad():
        for batch in tqdm(dataset, desc='Evaluating'):  # noqa: F821
            x, y = batch
            logits = model(x, y)
            preds.append(logits.numpy())
            labels.append(y.numpy())
    return tf.keras.metrics.sparse_categorical_accuracy(labels, tf.argmax(preds, axis=1))

# %% [markdown]
# **Bug 2 — PyTorch's `model.train()`, `model.eval()`, `tf.no_grad()`.** The first line of the
# training loop is PyTorch's way to switch on dropout and batch-norm updates. A Keras model has no such method; Keras passes
# `training=True` to `call` inside `fit` (or when you call `model(x, training=True)`).

# %% tags=["raises-exception"]
epochs = 10
batch_size = 16

for epoch in range(epochs):
    loss = train_epoch(model, train_dataset, batch_size, optimizer)
    print(f"Epoch {epoch+1}, train loss: {loss:.3f}")

    print(f"Epoch {epoch+1}, test accuracy: {evaluate(model, test_dataset, batch_size):.3f}")

# %% [markdown]
# Each remaining bug, one line of the seed at a time, on the seed's own objects:
#
# **Bug 2, continued** (evaluation): PyTorch again. Keras models have no `eval()` (pass
# `training=False`), and TensorFlow records gradients only inside a `tf.GradientTape`, so there
# is no `no_grad` to switch them off.

# %% tags=["raises-exception"]
model.eval()

# %% tags=["raises-exception"]
with tf.no_grad():
    pass

# %% [markdown]
# **Bug 3 — `tqdm` is never imported** (a progress bar; Keras' `fit(verbose=1)` has its own).

# %% tags=["raises-exception"]
tqdm(train_dataset, desc='Training')  # noqa: F821

# %% [markdown]
# **Bug 4 — `model(x, y)` against `call(self, inputs)`.** `call` takes one `inputs` argument
# and unpacks it itself (`x, y = inputs`); Keras refuses the extra positional argument.

# %% tags=["raises-exception"]
x, y = next(iter(train_dataset))
model(x, y)

# %% [markdown]
# **Bug 5 — the label used as the text input.** Passing the pair as one argument, as `call`
# expects, feeds `y` — the label — where the text should go. The embedding turns 16 labels into
# a `(16, 256)` matrix, and the LSTM, which needs a sequence `(batch, steps, features)`, refuses
# it. (Had the labels been sequences, it would have run — and learned to read the answer off its
# input.) The batches must hold `((image, text), label)`.

# %% tags=["raises-exception"]
model((x, y))

# %% [markdown]
# **Bug 6 — `tf.squeeze(y, axis=1)` after the LSTM.** With real captions, the LSTM returns its
# last state, `(batch, 256)`: there is no axis of size 1 to squeeze.

# %% tags=["raises-exception"]
captions = scenes.modalities["caption"][:16]
model((x, captions))

# %% [markdown]
# **Bug 7 — `CategoricalCrossentropy` with integer labels.** It expects one-hot labels of the
# logits' shape; integer class ids need `SparseCategoricalCrossentropy`. (Logits of the right
# shape stand in for the model's, which cannot produce them yet.)

# %% tags=["raises-exception"]
loss_fn(y, tf.zeros((16, 10)))

# %% [markdown]
# **Bug 8 — accuracy on a Python list of logits.** `evaluate` collects one `(16, 10)` array per
# batch; the last batch is shorter (200 = 12 × 16 + 8), so the list is not a rectangular array and
# `tf.argmax` cannot even convert it. (Had all batches been full, `argmax(axis=1)` would have
# taken the maximum over the *batch* axis of a `(batches, 16, 10)` array — silently wrong.)

# %% tags=["raises-exception"]
preds = [np.zeros((16, 10), "float32")] * 12 + [np.zeros((8, 10), "float32")]
tf.argmax(preds, axis=1)

# %% [markdown]
# **Exercise 2.** Write `accuracy_over_batches(logit_batches, label_batches)`: the fraction of
# samples, over all batches, whose highest logit is the label — the number `evaluate` should have
# returned. Mind the short last batch.

# %% tags=["solution"]
def accuracy_over_batches(logit_batches, label_batches) -> float:
    predicted = np.concatenate([np.argmax(b, axis=-1) for b in logit_batches])
    return float(np.mean(predicted == np.concatenate(label_batches)))

# %%
rng = np.random.default_rng(5)
logit_batches = [rng.normal(size=(n, 10)) for n in [16] * 12 + [8]]
label_batches = [rng.integers(0, 10, size=n) for n in [16] * 12 + [8]]
mmlib.check.batch_accuracy("Exercise 2", accuracy_over_batches(logit_batches, label_batches),
                           logit_batches, label_batches)

# %% [markdown]
# **The corrected Keras 3 version.** The same architecture — a convolution and pooling for the
# image, an embedding and LSTM for the caption, a dense "alignment" projection of the image
# feature, concatenation and a dense layer: exactly `fusion.ProjectedFusion("concat")` followed by
# a linear classifier — with the eight fixes: no `input_shape`, no squeeze, `call` takes one dict,
# padding masked, sparse labels, `fit` and `evaluate` instead of the hand-written loops. Sizes are
# arguments (small defaults for a CPU; the seed hard-coded 64 filters and 256 LSTM units).

# %%
class CorrectedMultimodalModel(keras.Model):
    """The seed's image-text model, fixed: image CNN + caption LSTM, concatenated."""

    def __init__(self, image_dim, vocab_size, output_dim, filters=8, units=16, **kwargs):
        super().__init__(**kwargs)
        self.image_conv = layers.Conv2D(filters, (3, 3), activation="relu")  # no input_shape
        self.image_pool = layers.MaxPooling2D((2, 2))
        self.image_flatten = layers.Flatten()
        self.text_embedding = layers.Embedding(vocab_size, 16, mask_zero=True)  # 0 = padding
        self.text_lstm = layers.LSTM(units)  # (batch, units): nothing to squeeze
        self.align = layers.Dense(image_dim)
        self.fuse = layers.Dense(output_dim)

    def call(self, inputs):  # one argument: a dict of modalities
        x = self.image_flatten(self.image_pool(self.image_conv(inputs["image"])))
        y = self.text_lstm(self.text_embedding(inputs["caption"]))
        return self.fuse(keras.ops.concatenate([self.align(x), y], axis=-1))

# %% [markdown]
# **A task that needs both inputs.** The label is the colour of the *first shape the caption
# names* (5 classes): the caption says which shape, only the image shows its colour.

# %%
def first_named_colour(part) -> np.ndarray:
    slot = part.metadata["caption_objects"][:, 0]
    return part.metadata["shape_colour"][np.arange(len(part)), slot].astype("int32")


def image_and_caption(part) -> dict:
    return {"image": part.modalities["image"], "caption": part.modalities["caption"]}


mmlib.env.set_seed(0)
corrected = CorrectedMultimodalModel(image_dim=32, vocab_size=48, output_dim=5)
corrected.compile(optimizer=keras.optimizers.Adam(3e-3), loss=LOSS, metrics=["accuracy"],
                  steps_per_execution=32)
history = corrected.fit(batches(image_and_caption(vqa_train), first_named_colour(vqa_train)),
                        epochs=3, steps_per_epoch=32, verbose=0, shuffle=False)

# %% tags=["nbval-check-output"]
colour_test = first_named_colour(vqa_test)
right = np.argmax(corrected(image_and_caption(vqa_test)), -1) == colour_test
n_shapes = vqa_test.metadata["n_shapes"]
print(f"accuracy {right.mean():.3f} (chance 0.2); one shape {right[n_shapes == 1].mean():.3f}, "
      f"two or three shapes {right[n_shapes > 1].mean():.3f}")

# %% [markdown]
# The corrected model trains and learns the colours: well above chance, and nearly always right
# when the scene holds one shape. With two or three shapes it must also *find* the shape the
# caption names — and a concatenation followed by a linear layer adds the caption's evidence to
# the image's instead of letting the caption select a region, so it does little better than
# naming the colour of a random shape of the scene (measured below). That is the job of the
# interaction layers of section 8.

# %%
def random_shape_colour_accuracy(part) -> float:
    """Expected accuracy of answering with the colour of a uniformly chosen shape of the scene."""
    colours, target = part.metadata["shape_colour"], first_named_colour(part)
    present = colours >= 0
    return float(np.mean((colours == target[:, None]).sum(1) / present.sum(1)))


multi = vqa_test.subset(np.flatnonzero(n_shapes > 1))
assert right.mean() >= 0.5 and right[n_shapes == 1].mean() >= 0.9
assert right[n_shapes > 1].mean() <= random_shape_colour_accuracy(multi) + 0.1

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# - **Early** fusion concatenates features, **late** fusion combines per-modality decisions,
#   **intermediate** fusion combines learned features with a layer $f_\theta$ that can form
#   interactions; the seed's MCNN and MRNN are convolutional and recurrent choices of $f_\theta$.
# - A fair benchmark fixes the encoders, the head and the budget and reports seeds, parameters and
#   time. On `av_digits` every fusion method beats both unimodal heads, the best beats the best
#   single modality by more than the data card's 0.08, and the parameter-free late mean is as good
#   as any: independent corruptions need no interaction.
# - Fusion trained on clean pairs is not robust: destroy one modality and it can fall far below
#   the other modality alone.
# - Low-rank fusion is tensor fusion with rank-$R$ weight slices; a small rank costs a fraction of
#   the parameters and almost no accuracy, and `low_rank_from_tensor_fusion` converts one into
#   the other.
# - When the answer depends on *how* one modality should be read (VQA), FiLM and cross-modal
#   attention form the interaction and beat the best question-only answer on every question type.
# - The seed's sample code mixes PyTorch idioms into TensorFlow and feeds the label as text; the
#   corrected version uses one `inputs` argument, sparse labels and `fit`/`evaluate`.
#
# ## References
# - A. Zadeh, M. Chen, S. Poria, E. Cambria, L.-P. Morency. *Tensor Fusion Network for Multimodal
#   Sentiment Analysis.* EMNLP, 2017.
# - Z. Liu, Y. Shen, V. B. Lakshminarasimhan, P. P. Liang, A. Zadeh, L.-P. Morency. *Efficient
#   Low-rank Multimodal Fusion with Modality-Specific Factors.* ACL, 2018.
# - J. Arevalo, T. Solorio, M. Montes-y-Gómez, F. A. González. *Gated Multimodal Units for
#   Information Fusion.* ICLR Workshop, 2017.
# - E. Perez, F. Strub, H. de Vries, V. Dumoulin, A. Courville. *FiLM: Visual Reasoning with a
#   General Conditioning Layer.* AAAI, 2018.
# - J.-H. Kim, K.-W. On, W. Lim, J. Kim, J.-W. Ha, B.-T. Zhang. *Hadamard Product for Low-rank
#   Bilinear Pooling.* ICLR, 2017.
# - D. Bahdanau, K. Cho, Y. Bengio. *Neural Machine Translation by Jointly Learning to Align and
#   Translate.* ICLR, 2015.
# - Y.-H. H. Tsai, S. Bai, P. P. Liang, J. Z. Kolter, L.-P. Morency, R. Salakhutdinov.
#   *Multimodal Transformer for Unaligned Multimodal Language Sequences.* ACL, 2019.
# - D. H. Wolpert. *Stacked Generalization.* Neural Networks 5(2), 1992.
# - C. Eckart, G. Young. *The Approximation of One Matrix by Another of Lower Rank.*
#   Psychometrika 1(3), 1936.
# - T. Baltrušaitis, C. Ahuja, L.-P. Morency. *Multimodal Machine Learning: A Survey and
#   Taxonomy.* IEEE TPAMI, 2019.
# - Keras documentation: *Making new layers and models via subclassing*; *Customizing what happens
#   in `fit()`*.
