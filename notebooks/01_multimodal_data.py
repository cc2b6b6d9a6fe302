# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Multimodal data
#
# *What a modality looks like to a program: tensors with shapes, dtypes, ranges and clocks — paired,
# sometimes out of sync, sometimes missing, and never alike.*
#
# **Learning objectives.** After this notebook you can
# 1. describe every modality of the course's five datasets as a tensor: its kind, shape, dtype,
#    value range, sampling rate and size in bytes, and derive the shape of a log-mel spectrogram;
# 2. explain what pairs the modalities of a sample, and recover an audio–video offset by
#    cross-correlation on one time axis;
# 3. represent missing modalities with a presence mask (the course's `modality_mask` input) and
#    tell a missing modality from a missing value;
# 4. measure the heterogeneity of modalities — dimension, scale, rate and how much each one tells
#    about the label — and say why fusion needs the pairing.
#
# **Prerequisites.** NumPy arrays and their shapes; what a logistic regression is. Notebook 00.
#
# **Estimated CPU time.** About 35 seconds on a 2-core CPU (measured: the median wall time in a
# fresh kernel, [benchmarks](../docs/benchmarks.md)); no GPU, no internet needed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Set-up

# %%
import mmlib

info = mmlib.setup_notebook(seed=0)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mmlib import data, viz

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · A modality is a tensor
#
# *Multimodal data* (多模态数据) describes one thing through several channels: a picture, a sound,
# a text, a table of measurements. Each channel is a *modality* (模态). A dataset of $n$ samples
# with $M$ modalities is
#
# $$\mathcal{D} = \{(x_i^{(1)}, \dots, x_i^{(M)}, y_i)\}_{i=1}^{n}, \qquad
#   x_i^{(m)} \in \mathbb{R}^{s_m}, \qquad d_m = \prod_k s_{m,k} \text{ values per sample},$$
#
# where each modality has its own shape $s_m$ — a *tensor* (张量) per sample, stacked along
# axis 0. The course uses one vocabulary of modality **kinds**, each with its own shape convention:
#
# | kind | shape per sample | example |
# |---|---|---|
# | `image` | $(H, W, C)$, values in $[0, 1]$ | a handwritten digit, a CT slice, a camera frame |
# | `audio` | $(T,)$ waveform at a sampling rate (采样率) $f_s$ | a spoken digit at 8 kHz |
# | `spectrogram` | $(F, B)$: frames × frequency bands | the log-mel spectrogram (对数梅尔频谱) of that word |
# | `text` | $(L,)$ integer token ids, 0 = padding | a caption, a clinical note |
# | `tabular` | $(F,)$ named columns with units, NaN = not recorded | a health record |
# | `vector` | $(D,)$ unnamed features | gene expression |
# | `point_cloud` | $(N, 3)$: an unordered *set* of points (点云) $(x, y, z)$ in metres | LiDAR returns |
# | `heatmap` | $(H, W, 1)$ grid that is not a photograph | a radar range–Doppler map |
# | `video` | $(T, H, W, C)$ frames at a frame rate | a surveillance clip |
#
# A *time series* (时间序列) is any $(T, C)$ tensor with a clock: the waveform is one with $C = 1$,
# the log-mel spectrogram one with $C = B$ bands, and §3 builds two more from the video and the
# audio. Every loader returns a `MultimodalDataset` whose `modalities`, `kinds` and `info` (sample
# rates, frame rates, units) say all of this; the table below is read from them, for all five
# datasets at their default sizes.

# %%
full = {name: data.load(name, seed=0) for name in data.DATASETS}
logmel = data.load("av_digits", seed=0, audio_features="log_mel")  # the audio as a spectrogram
HOP = 80  # its frames start every 80 samples (frame_step, see help(data.load_av_digits))


def rate_of(ds: data.MultimodalDataset, m: str) -> tuple[float, str]:
    """(values per second, unit) of a modality's time axis; (nan, '') for a snapshot."""
    kind = ds.kinds[m]
    if kind == "audio":
        return float(ds.info["sample_rate"]), "samples/s"
    if kind == "video":
        return float(ds.info["fps"]), "frames/s"
    if kind == "spectrogram":  # one frame every HOP samples of the audio
        return ds.info["sample_rate"] / HOP, "frames/s"
    return float("nan"), ""


# %%
def modality_row(name: str, ds: data.MultimodalDataset, m: str) -> dict:
    """One row of the summary table: what modality m of dataset `name` is as a tensor."""
    x = ds.modalities[m]
    finite = x[np.isfinite(x)]
    rate, unit = rate_of(ds, m)
    return {"dataset": name, "modality": m, "kind": ds.kinds[m], "shape": x.shape[1:],
            "dtype": str(x.dtype), "min": float(finite.min()), "max": float(finite.max()),
            "NaN %": 100 * float(np.isnan(x).mean()) if x.dtype.kind == "f" else 0.0,
            "rate": rate, "rate unit": unit, "values": int(np.prod(x.shape[1:])),
            "bytes": int(x[0].nbytes)}


rows = [modality_row(name, ds, m) for name, ds in full.items() for m in ds.modalities]
table = pd.DataFrame([*rows, modality_row("av_digits (log-mel)", logmel, "audio")])

# %% tags=["nbval-check-output"]
print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))

# %%
assert set(table.loc[table["NaN %"] > 0, "modality"]) == {"ehr"}  # only the table has NaN
assert set(table.loc[table["dtype"] != "float32", "kind"]) == {"text"}  # token ids: int32
assert set(table.loc[table["rate"].notna(), "kind"]) == {"audio", "video", "spectrogram"}
pictures = table[table["kind"].isin(["image", "video"])]
assert pictures["min"].min() >= 0 and pictures["max"].max() <= 1  # pixels in [0, 1]

# %% [markdown]
# Read the table column by column: **shapes** range from 10 token ids (a question) and 13
# numbers (a health record) to 6,400 (0.8 s of audio); **dtypes** are float32 except token ids
# (int32 — categories, not quantities: token 47 is not "more" than token 3, which is why text
# goes through an embedding); **ranges** go from $[0, 1]$ (pixels) through metres (LiDAR) and
# decibels (radar) to 1,776 U/mL (a tumour marker); only audio and video (and the spectrogram made
# from audio) have a **rate**; and only the health record has **NaN**.
# Here is one sample of each dataset, every modality drawn by its kind with `mmlib.viz`:

# %%
small = {name: data.load(name, n_samples=64, seed=0) for name in data.DATASETS}
for ds in small.values():
    fig = ds.plot_samples(n=1)

# %% [markdown]
# **Widget.** Browse the datasets: pick a dataset, a class of its main task and a modality (or all
# of them); *Page* steps through more samples of that class. Each dataset is loaded (its first
# 240 samples) the first time you pick it. Things to look for: the occluded digits of `av_digits`,
# the benign lesion that looks healthy in the EHR of `clinic`, the night camera of `drive`, the
# look-alike scenes of `watch` that fool one modality.

# %%
mmlib.widgets.browse_samples()

# %% [markdown] slideshow={"slide_type": "slide"}
# ### From waveform to log-mel spectrogram
#
# The same sound can be stored as a waveform $(T,)$ or as a log-mel spectrogram $(F, B)$: frames
# of $L$ samples taken every $h$ samples (the hop), each turned into the energy of $B$ mel bands
# and logged. With no padding, the number of frames is
#
# $$F = 1 + \left\lfloor \frac{T - L}{h} \right\rfloor ,$$
#
# and the frame rate is $f_s / h$. For `av_digits`: $T = 6400$, $L = 256$, $h = 80$, $B = 32$, so
# the spectrogram runs at $8000 / 80 = 100$ frames per second — a time series of 32 channels.
# The library's function (NumPy; the Keras layer of notebook 02 computes the same):

# %%
mmlib.course.show_source(data.log_mel_spectrogram)

# %%
T, L, h = full["av_digits"].modalities["audio"].shape[1], 256, HOP
print("log-mel tensor per sample:", logmel.modalities["audio"].shape[1:],
      "| frames from the formula:", 1 + (T - L) // h)
assert logmel.modalities["audio"].shape[1:] == (1 + (T - L) // h, 32, 1)
fig = viz.plot_samples(logmel, 2, modalities=["audio"])

# %% [markdown]
# **Exercise 1.** How many values does one sample of the `watch` audio hold *as a log-mel
# spectrogram* with frames of $L = 128$ samples every $h = 32$ samples and $B = 32$ bands? Compute
# it from the formula (the waveform has $T$ = `full["watch"].modalities["audio"].shape[1]`
# samples), not from an array.

# %% tags=["solution"]
T_watch = full["watch"].modalities["audio"].shape[1]
n_values = (1 + (T_watch - 128) // 32) * 32

# %%
spec = data.log_mel_spectrogram(full["watch"].modalities["audio"][:1], 4000, frame_length=128,
                                frame_step=32, n_mels=32)
mmlib.check.equal("Exercise 1", n_values, spec[0].size)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Pairing and synchronisation
#
# **Pairing** (配对). What makes $x_i^{(1)}, \dots, x_i^{(M)}$ one sample is the index $i$: the
# same digit was written and spoken, the same patient was scanned and examined. The pairing is
# information in itself — §5 measures how much fusion loses when it is broken.
#
# **Synchronisation** (同步). Modalities with a time axis run on their own clocks. In `watch` the
# video's frame $k$ integrates the light of $[k/f_v, (k+1)/f_v)$ with $f_v = 8$ frames/s, the
# audio's sample $j$ is taken at $j / f_s$ with $f_s = 4000$ samples/s — 500 audio samples per
# frame. With `max_offset > 0` the whole audio track is late by $\Delta$ seconds
# (`metadata["av_offset"]`, uniform in $[-0.3, 0.3]$ s): what is seen at time $t$ is heard at
# $t + \Delta$. A model that fuses frame $k$ with the audio of the same instant then fuses the
# wrong moments. To estimate $\Delta$, turn both streams into *change detectors* on one time axis:
#
# - video **motion energy** between consecutive frames, at the frame boundaries
#   $t_k = (k+1)/f_v$: $\;e_v[k] = \max\!\big(0,\ \overline{|V_{k+1} - V_k|} - \operatorname{median}_k\big)$;
# - audio **onset strength** at $R = 500$ values/s: the rise of the short-time RMS envelope $r$,
#   $\;e_a[j] = \max(0,\ r[j] - r[j-1])$, smoothed over half a frame;
#
# and take the lag that maximises their **cross-correlation** (互相关):
#
# $$c(\tau) = \sum_k e_v[k]\; e_a\!\big[\operatorname{round}((t_k + \tau) R)\big], \qquad
#   \hat\Delta = \arg\max_{|\tau| \le 0.35\,\mathrm{s}} c(\tau).$$

# %% [markdown]
# The course library has these three steps in `mmlib.align` (notebook 11 uses them in the
# security case): the two change detectors,

# %%
from mmlib import align

RATE = align.ONSET_RATE  # onset-strength values per second

# %%
mmlib.course.show_source(align.motion_energy)

# %%
mmlib.course.show_source(align.onset_strength)

# %% [markdown]
# and the cross-correlation at every lag of a grid:

# %%
mmlib.course.show_source(align.av_lag_scores)

# %% [markdown]
# 800 clips with offsets up to ±0.3 s. First one clip — a window breaking in the clear condition,
# with its audio more than 0.25 s late — then its two curves on one time axis and the
# cross-correlation:

# %%
watch = data.load("watch", n_samples=800, seed=0, max_offset=0.3)
fps, scenes = watch.info["fps"], watch.info["scenes"]
lags = np.arange(-44, 45) / 128  # |lag| <= 0.35 s in steps of 1/128 s
motion = align.motion_energy(watch.modalities["video"])
onset = align.onset_strength(watch.modalities["audio"], watch.info["sample_rate"])
scores = align.av_lag_scores(motion, onset, fps, RATE, lags)
estimate, offset = lags[scores.argmax(axis=1)], watch.metadata["av_offset"]
i = int(np.flatnonzero((watch.metadata["scene"] == scenes.index("glass_break"))
                       & (watch.metadata["condition"] == 0) & (offset > 0.25))[0])
fig = watch.plot_samples(indices=[i])

# %%
fig = viz.plot_av_sync(motion[i], fps, onset[i], RATE, lags, scores[i], offset=float(offset[i]),
                       title=f"watch clip #{i}: {scenes[watch.metadata['scene'][i]]}, clear")

# %% [markdown]
# As recorded, the crash is heard after the flash is seen; moved by $-\hat\Delta$ the audio's
# onsets line up with the video's changes, and the peak of $c(\tau)$ falls inside the band of one
# frame around the true offset. Over all 800 clips — by condition, and against the naive guess
# "the streams are aligned" ($\hat\Delta = 0$):

# %%
events = watch.labels["event"] > 0
within = np.abs(estimate - offset) <= 1 / fps  # within one video frame
conditions = watch.info["conditions"]
rates = {c: float(within[events & (watch.metadata["condition"] == k)].mean())
         for k, c in enumerate(conditions)}
sync = {"event clips": float(within[events].mean()), **{f"  {c}": r for c, r in rates.items()},
        "quiet clips": float(within[watch.metadata["scene"] == 0].mean()),
        "naive zero guess, event clips": float((np.abs(offset) <= 1 / fps)[events].mean())}

# %% tags=["nbval-check-output"]
for what, share in sync.items():
    print(f"{what:32s} {share:.2f} of clips within one frame (0.125 s)")

# %%
assert abs(estimate[i] - offset[i]) <= 1 / fps  # the clip drawn above
assert np.array_equal(estimate, align.estimate_av_offset(  # the same steps in one call
    watch.modalities["video"], watch.modalities["audio"], watch.info["sample_rate"], fps))
assert sync["event clips"] >= 0.75, sync
assert rates["clear"] >= 0.9, rates
assert sync["event clips"] >= sync["naive zero guess, event clips"] + 0.25, sync
assert rates["noisy"] <= rates["clear"] - 0.3, rates  # building noise masks the onsets
assert sync["quiet clips"] <= 0.6, sync  # nothing happens: nothing to align on

# %% [markdown]
# Synchronisation needs a shared event: where something is seen *and* heard (an intrusion, a
# crash) the offset is found for about 19 clips in 20 in the clear condition; where noise masks
# the sound (the *noisy* condition), or where nothing happens (quiet clips), the cross-correlation
# peaks at chance lags. The data card (`datasets/README.md`, `watch`) reports the same method at
# 1,500 clips: 84.7 % of event clips within one frame, 96 % clear, 82 % dark, 38 % noisy.
# Notebook 04 aligns sequences of different speeds with dynamic time warping; notebook 11 uses
# the offset in the security case.
#
# **Exercise 2.** Do the cross-correlation yourself with `np.correlate`, for clip `i` above.
# `impulses` puts the clip's motion energy on the audio's time grid (500 values per second, zero
# between frame boundaries). With `c = np.correlate(onset_i, impulses, mode="full")`, entry `k`
# compares the audio moved by `k - (len(impulses) - 1)` values. Compute the offset in **seconds**.

# %%
onset_i = onset[i]
impulses = np.zeros(len(onset_i))
impulses[np.round(np.arange(1, fps) / fps * RATE).astype(int)] = motion[i]

# %% tags=["solution"]
c = np.correlate(onset_i, impulses, mode="full")
lag_seconds = (int(np.argmax(c)) - (len(impulses) - 1)) / RATE

# %%
mmlib.check.close("Exercise 2 (within one frame of the true offset)", lag_seconds,
                  float(offset[i]), rtol=0, atol=1 / fps)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Missing modalities and presence masks
#
# A sensor fails, a test was not ordered, a patient has no scan: a **missing modality** (模态缺失).
# Storing a missing array as zeros is not enough — a model cannot tell "absent" from "black image"
# or "silence". So every sample carries a **presence mask** (掩码)
#
# $$\mathbf{m}_i \in \{0, 1\}^M, \qquad m_i^{(m)} = 1 \iff \text{modality } m \text{ was recorded,}$$
#
# with the columns in **sorted modality-name order** — the course's contract, the order in which
# the fusion layers read a dict of modalities. `clinic` lists its modalities as
# `scan, ehr, note, genes`; its mask columns are `ehr, genes, note, scan`, by this function:

# %%
from mmlib import mask_columns

mmlib.course.show_source(mask_columns)

# %% [markdown]
# Every loader's `missing_rate` knob drops each modality of each sample independently with
# probability $r$ ("missing completely at random"), zeroes it and clears its mask — but never the
# last modality of a sample. The number of present modalities is then binomial,
#
# $$P(k \text{ present}) = \binom{M}{k} (1-r)^k\, r^{M-k}, \quad k \ge 1,$$
#
# with the mass of $k = 0$ (probability $r^M$) moved to $k = 1$. The library's code:

# %%
mmlib.course.show_source(data.MultimodalDataset.drop_modalities)

# %%
import math

r = 0.3
clinic_missing = data.load("clinic", seed=0, missing_rate=r)
columns = mask_columns(clinic_missing.modalities)
mask = np.stack([clinic_missing.masks[m] for m in columns], axis=1)  # (n, M) bool
n, M = mask.shape
counts = np.bincount(mask.sum(axis=1), minlength=M + 1) / n
expected = np.array([math.comb(M, k) * (1 - r) ** k * r ** (M - k) for k in range(M + 1)])
expected[1], expected[0] = expected[1] + expected[0], 0.0

# %%
fig, (ax_mask, ax_count) = plt.subplots(1, 2, figsize=(11, 2.8), layout="constrained",
                                        gridspec_kw={"width_ratios": [2.2, 1]})
viz.draw_presence_mask(ax_mask, mask[:60], columns)
ax_mask.set_title(f"first 60 patients, missing_rate {r}", loc="left")
k = np.arange(M + 1)
ax_count.bar(k - 0.2, counts, 0.4, label=f"measured ({n:,} patients)")
ax_count.bar(k + 0.2, expected, 0.4, label="binomial, k=0 moved to 1")
ax_count.set(xlabel="modalities present per patient", ylabel="share of patients", xticks=k,
             ylim=(0, 0.6))  # room for the legend above the bars
ax_count.legend(fontsize=9, loc="upper left")
ax_count.set_title("modalities per patient", loc="left")
plt.show()

# %% tags=["nbval-check-output"]
print("mask columns:", columns)
print("share present per modality:", mask.mean(axis=0).round(3).tolist())
print("share with all", M, "present:", round(float(counts[M]), 3), "| binomial:",
      round(float(expected[M]), 3), "| with none:", round(float(counts[0]), 3))

# %%
sigma = np.sqrt(expected * (1 - expected) / n)  # binomial standard error of each share
assert np.all(np.abs(counts - expected) <= 3 * sigma + 1e-12), (counts, expected)
assert counts[0] == 0, "no sample may lose every modality"
p_present = (1 - r) + r**M / M  # kept, or given back as the last one
sigma_present = np.sqrt(p_present * (1 - p_present) / n)
assert np.all(np.abs(mask.mean(axis=0) - p_present) <= 3 * sigma_present), mask.mean(axis=0)
assert all(np.all(clinic_missing.modalities[m][~clinic_missing.masks[m]] == 0) for m in columns)

# %% [markdown]
# For a model the mask is one more input. `to_tf_dataset(with_masks=True)` yields it as
# `inputs["modality_mask"]`, float32 $(\text{batch}, M)$, columns in `mask_columns` order:

# %%
batch_inputs, batch_labels = next(iter(clinic_missing.to_tf_dataset(
    batch_size=32, tasks="diagnosis", with_masks=True)))
print({name: tuple(t.shape) for name, t in batch_inputs.items()})
print("first 4 rows of the mask:\n", batch_inputs["modality_mask"].numpy()[:4])

# %% [markdown]
# **Exercise 3.** Build the presence mask of the first batch (the first 32 patients) yourself from
# `clinic_missing.masks` (modality → bool array `(n,)`): float32, shape `(32, 4)`, columns in the
# course's order. The check compares it with the one `to_tf_dataset` made.

# %% tags=["solution"]
my_mask = np.stack([clinic_missing.masks[m][:32] for m in sorted(clinic_missing.modalities)],
                   axis=1).astype(np.float32)

# %%
mmlib.check.equal("Exercise 3", my_mask, batch_inputs["modality_mask"].numpy())

# %% [markdown]
# **Missing values are not missing modalities.** Inside the health record, single lab values are
# missing too (缺失值): stored as NaN, with `metadata["ehr_observed"]` as their own mask. The data
# card says vitals and labs go missing with probability 0.15, the tumour marker CA 19-9 twice as
# often, and age and sex never. Measured on the complete dataset:

# %%
ehr = full["clinic"].to_pandas("ehr")
nan_share = ehr.isna().mean()
print(nan_share.round(3).to_string())
assert nan_share[["age", "sex"]].max() == 0
others = nan_share.drop(["age", "sex", "ca19_9"])
assert abs(others.mean() - 0.15) < 0.02 and abs(nan_share["ca19_9"] - 0.30) < 0.04
assert np.array_equal(ehr.notna().to_numpy(), full["clinic"].metadata["ehr_observed"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Heterogeneity
#
# Modalities are **heterogeneous** (异构性) in at least four ways, each of which a fusion model has
# to absorb:
#
# 1. **dimension** $d_m$ — values per sample;
# 2. **scale** — units and spread of the values, even across the columns of one table;
# 3. **rate** — values per second of the time axis, or none at all;
# 4. **information** — how much $x^{(m)}$ tells about $y$, approximated below by the test accuracy
#    of a probe (探针) trained on that modality alone: $\;\mathrm{acc}_m \le$ the best any model can
#    do from $x^{(m)}$.
#
# Dimension, size and rate, from the table of §2 (log scales; a snapshot has no rate):

# %%
kinds = list(dict.fromkeys(table["kind"]))  # one colour per kind
colour = {kind: f"C{j}" for j, kind in enumerate(kinds)}
names = table["dataset"] + " · " + table["modality"]

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 5.6), sharey=True, layout="constrained")
for ax, col, xlabel in zip(axes, ["values", "bytes", "rate"], ["values per sample",
                           "bytes per sample", "time axis rate (1/s)"], strict=True):
    ax.barh(names, table[col].fillna(0), color=table["kind"].map(colour))
    ax.set(xscale="log", xlabel=xlabel)
    ax.grid(False, axis="y")
for y in np.flatnonzero(table["rate"].isna()):
    axes[2].text(1.3, y, "snapshot (no time axis)", va="center", fontsize=9, color="0.35")
axes[2].set_xlim(1, 3e4)
axes[0].invert_yaxis()
fig.legend([plt.Rectangle((0, 0), 1, 1, color=colour[k]) for k in kinds], kinds,
           loc="outside lower center", ncol=len(kinds), title="kind", fontsize=9)
fig.suptitle(f"Heterogeneity of the {len(table)} modality tensors of the five datasets")
plt.show()

# %% [markdown]
# **Scale.** Inside one table the columns differ by orders of magnitude — creatinine in mg/dL
# varies by a few tenths, CA 19-9 by hundreds of U/mL — so a model that sees raw values is
# dominated by the widest column. Standardising each column, $z = (x - \mu)/\sigma$ with $\mu,
# \sigma$ from the training data, is the first preprocessing step of notebook 02.

# %%
spread = ehr.std().sort_values()
print(spread.round(3).to_string())
dims = table.set_index(["dataset", "modality"])["values"]
rate_ratio = full["watch"].info["sample_rate"] / full["watch"].info["fps"]
print(f"largest / smallest EHR std: {spread.iloc[-1] / spread.iloc[0]:.0f}x | "
      f"largest / smallest modality: {dims.max() / dims.min():.0f}x values | "
      f"watch: {rate_ratio:.0f} audio samples per video frame")
assert spread.iloc[-1] / spread.iloc[0] > 100 and dims.max() / dims.min() > 100
assert rate_ratio == 500

# %% [markdown]
# **Information.** A *linear probe* (线性探针): each modality becomes a few simple features —
# images average-pooled to about 12×12 pixels, audio the mean, standard deviation and maximum over
# time of each log-mel band, the table's values ($\log(1+x)$, NaN set to 0) plus one missing-value
# indicator per column, text a bag of words, vectors as they are — and a logistic regression,
#
# $$p(y = c \mid \mathbf{z}) = \operatorname{softmax}(W \mathbf{z} + \mathbf{b})_c ,$$
#
# on standardised features $\mathbf{z}$, with the regularisation $C$ chosen on a validation part
# of the training split; test accuracy on a stratified 30 % test part, mean over two seeds.
# "Fused" concatenates the features of all modalities (early fusion, the simplest kind).

# %%
def simple_features(ds: data.MultimodalDataset, m: str) -> np.ndarray:
    """A few simple features of modality m for a linear probe: (n, ...) -> (n, features)."""
    x, kind, n = ds.modalities[m], ds.kinds[m], len(ds)
    if kind == "image":  # average-pool to about 12 x 12 pixels
        k = x.shape[1] // 12
        pooled = x.reshape(n, x.shape[1] // k, k, x.shape[2] // k, k, -1).mean(axis=(2, 4))
        return pooled.reshape(n, -1)
    if kind == "audio":  # log-mel band statistics over time
        lm = data.log_mel_spectrogram(x, ds.info["sample_rate"])
        return np.concatenate([lm.mean(1), lm.std(1), lm.max(1)], axis=1)
    if kind == "tabular":  # log values, NaN -> 0, plus a missing-value indicator per column
        return np.hstack([np.log1p(np.nan_to_num(x)), np.isnan(x)])
    if kind == "text":  # bag of words (token 0 is padding)
        return np.stack([np.bincount(row, minlength=len(ds.info["vocab"]))[1:] for row in x])
    return x.reshape(n, -1)


# %%
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

# %%
def probe(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """Test accuracy of a logistic regression on x (C chosen on a validation part of train)."""
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=seed, stratify=y)
    fit, val = train_test_split(train, test_size=0.25, random_state=seed, stratify=y[train])
    model = lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
    with threadpool_limits(1):  # one BLAS thread: small fits run faster without thread hand-offs
        val_acc = {c: model(c).fit(x[fit], y[fit]).score(x[val], y[val]) for c in (0.01, 0.1, 1)}
        best = max(val_acc, key=val_acc.get)
        return float(model(best).fit(x[train], y[train]).score(x[test], y[test]))


# %% [markdown]
# On `av_digits` (two modalities) and `clinic` (four modalities of four kinds). A last row,
# "fused, pairing broken", shuffles the samples of every modality but the first before fusing —
# the same features, the same amounts of information per modality, only the pairing is gone:

# %%
def probe_dataset(name: str, seeds=(0, 1)) -> dict[str, float]:
    """Probe accuracy of each modality, fused, and fused with the pairing broken."""
    ds = full[name]
    y = ds.labels[next(iter(ds.labels))]
    feats = {m: simple_features(ds, m) for m in ds.modalities}
    perm = np.random.default_rng(0).permutation(len(y))
    shuffled = [f if j == 0 else f[perm] for j, f in enumerate(feats.values())]
    inputs = {**feats, "fused": np.hstack(list(feats.values())),
              "fused, pairing broken": np.hstack(shuffled)}
    acc = {k: float(np.mean([probe(x, y, s) for s in seeds])) for k, x in inputs.items()}
    return {**acc, "majority class": float(np.bincount(y).max() / len(y))}


accuracy = {name: probe_dataset(name) for name in ("av_digits", "clinic")}

# %% tags=["nbval-check-output"]
for name, acc in accuracy.items():
    print(name, {k: round(v, 3) for k, v in acc.items()})

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), layout="constrained", sharex=True)
for ax, (name, acc) in zip(axes, accuracy.items(), strict=True):
    inputs = [k for k in acc if k != "majority class"]
    colours = ["0.55"] * (len(inputs) - 2) + ["tab:green", "tab:red"]
    ax.barh(inputs, [acc[k] for k in inputs], color=colours)
    ax.axvline(acc["majority class"], color="0.2", ls=":")
    for y, k in enumerate(inputs):
        ax.text(acc[k] + 0.01, y, f"{acc[k]:.2f}", va="center", fontsize=10)
    ax.set(xlim=(0, 1.1), xlabel="test accuracy (dotted line: majority class)", title=name)
    ax.grid(False, axis="y")
    ax.invert_yaxis()
plt.show()

# %%
for name, acc in accuracy.items():
    singles = [acc[m] for m in full[name].modalities]
    assert acc["fused"] >= max(singles) + 0.08, (name, acc)  # fusion beats the best single one
    assert max(singles) <= 0.85, (name, acc)  # no modality alone is enough
    assert acc["fused, pairing broken"] <= max(singles) + 0.03, (name, acc)  # gain = the pairing
    assert abs(acc["fused, pairing broken"] - singles[0]) <= 0.05, (name, acc)  # ~ first alone
clinic_acc = accuracy["clinic"]
assert clinic_acc["ehr"] >= clinic_acc["scan"] - 0.05  # 13 values tell as much as 2,304
assert clinic_acc["genes"] >= max(clinic_acc["scan"], clinic_acc["ehr"]) + 0.05
assert clinic_acc["note"] <= min(clinic_acc[m] for m in ("scan", "ehr", "genes")) - 0.1

# %% [markdown]
# What the numbers say:
#
# - **Information is not size.** To a linear probe, `clinic`'s health record (13 values) tells as
#   much as its 2,304-pixel scan, and its 64 gene values more than either; the note's 48 tokens
#   tell least, because a bag of words cannot read negation ("denies fever"). (Better scan
#   features — an intensity histogram — raise the scan to 0.76 on the data card.)
# - **Fusion helps only together with the pairing.** Concatenating all modalities gains
#   clearly over the best single one; with the pairing broken, the extra modalities become noise
#   and the fused probe falls back to about the first modality alone. The gain is not "more
#   features", it is *the same sample seen twice*.
# - **A stronger sceptic agrees.** The data cards' probe suites (`datasets/README.md`) also try
#   gradient-boosted trees on features written to exploit each modality and small trained neural
#   encoders. For `watch` the best of those reaches video 0.689, audio 0.723 and **fused 0.943**
#   (+0.22); for `drive` camera 0.64, LiDAR 0.69, radar 0.62 and **fused 0.83** (+0.15); for the
#   VQA task of `shapes_captions` the question alone 0.44 and **image + question 0.67** — no
#   single modality is enough, however strong the model.
#
# Notebook 02 turns these heterogeneous tensors into model inputs (standardise, embed, log-mel,
# masks in a `tf.data` pipeline); notebooks 03 and 05 build the encoders and the fusion.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Each modality is a tensor per sample with its own kind, shape, dtype, range and clock; one
#   table read from `ds.modalities`, `ds.kinds` and `ds.info` describes all of them. A log-mel
#   spectrogram has $1 + \lfloor (T - L)/h \rfloor$ frames at $f_s/h$ frames per second.
# - The sample index pairs the modalities; time-based modalities must also be synchronised. An
#   audio–video offset is recovered by cross-correlating the video's motion energy with the
#   audio's onset strength — within one frame for most event clips, not where nothing is shared.
# - A missing modality is zeros plus a 0 in the presence mask (`modality_mask`, sorted columns);
#   a missing value inside a table is NaN with its own indicator. Random dropping at rate $r$
#   leaves a binomial number of modalities per sample.
# - Modalities differ in dimension (10 to 6,400 values), scale (columns of one table differ
#   1,000-fold), rate (500 audio samples per video frame) and information — which is not size.
#   Fusion beats the best single modality only because the samples are paired.
#
# ## References
# - T. Baltrušaitis, C. Ahuja, L.-P. Morency. *Multimodal Machine Learning: A Survey and
#   Taxonomy.* IEEE Transactions on Pattern Analysis and Machine Intelligence 41(2), 2019.
# - P. P. Liang, A. Zadeh, L.-P. Morency. *Foundations and Trends in Multimodal Machine Learning:
#   Principles, Challenges, and Open Questions.* ACM Computing Surveys 56(10), 2024.
# - A. Owens, A. A. Efros. *Audio-Visual Scene Analysis with Self-Supervised Multisensory
#   Features.* ECCV, 2018 (audio–video synchronisation as a learning signal).
# - J. S. Chung, A. Zisserman. *Out of Time: Automated Lip Sync in the Wild.* ACCV Workshops,
#   2016 (SyncNet: estimating the audio–video offset).
# - D. B. Rubin. *Inference and Missing Data.* Biometrika 63(3), 1976 (missing completely at
#   random).
# - S. S. Stevens, J. Volkmann, E. B. Newman. *A Scale for the Measurement of the Psychological
#   Magnitude Pitch.* Journal of the Acoustical Society of America 8(3), 1937 (the mel scale).
# - G. Alain, Y. Bengio. *Understanding Intermediate Layers Using Linear Classifier Probes.* ICLR
#   Workshop, 2017 (linear probes).
# - Data cards of the five datasets: `datasets/README.md` of this course.
