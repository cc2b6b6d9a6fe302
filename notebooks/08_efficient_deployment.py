# %% [markdown] slideshow={"slide_type": "slide"}
# # 08 · Efficient deployment
#
# *From a trained multimodal model to a small, fast, guarded and monitored one: graph compilation,
# mixed precision, quantization, pruning, a serving signature, drift alarms and data-parallel
# training — each measured on this CPU.*
#
# **Learning objectives.** After this notebook you can
# 1. measure what graph compilation (`tf.function`, XLA) buys over eager execution, honestly
#    (medians of repeated runs);
# 2. explain mixed precision (混合精度) — float16 math, float32 master weights, a float32 output
#    layer — and switch it on only where it pays (a GPU);
# 3. convert a model to LiteRT in float32, float16 and int8 (量化 quantization), and read the
#    size / accuracy / latency table, including what the file holds besides the weights;
# 4. prune (剪枝) a model by weight magnitude and read the sparsity–accuracy trade-off;
# 5. export a model with a serving signature that rejects malformed requests with clear messages;
# 6. monitor data drift (数据漂移) modality by modality with PSI and the KS test;
# 7. train data-parallel with `tf.distribute` on several devices and several worker processes,
#    and show that it computes the same weights as one device.
#
# **Prerequisites.** Notebooks 01 (the `clinic` dataset) and 05 (fusion models); Keras `fit`;
# histograms and empirical distribution functions.
#
# **Estimated CPU time.** About 60 seconds on a 2-core CPU (the two worker processes of section 9
# included; measured: the median wall time in a fresh kernel, [benchmarks](../docs/benchmarks.md));
# no GPU, no internet needed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Set-up: two logical CPU devices, before TensorFlow starts
#
# Section 9 mirrors a model over two devices. On a machine without GPUs we split the CPU into two
# *logical* devices. TensorFlow fixes its device list when its runtime starts (the first tensor),
# so this has to happen in the first cell, right after `mmlib.setup_notebook` (which imports
# TensorFlow but creates no tensor); `split_cpu` says so clearly if it comes too late.
# `mixed_precision=True` asks for the `mixed_float16` policy — granted only on a GPU (section 4).

# %%
import mmlib

info = mmlib.setup_notebook(seed=0, mixed_precision=True)
devices = mmlib.deploy.split_cpu(2)
print("logical CPU devices:", devices)

# %%
import atexit
import shutil
import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from mmlib import data, deploy
from mmlib.preprocess.tabular import TabularPreprocessor

tf.get_logger().setLevel("ERROR")
WORK = Path(tempfile.mkdtemp(prefix="nb08_"))  # exported files go here;
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # deleted when the kernel stops

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The model to deploy: scan + health record + note
#
# The medical case study's data (`clinic`, `datasets/README.md`): a 32×32 abdominal scan, a
# 13-column health record with missing values, and a templated clinical note, to predict one of
# four diagnoses (healthy, benign lesion, malignant lesion, inflammation). No modality suffices
# alone (a benign lesion is seen only on the scan, and only the other modalities tell it from a
# malignant one). We leave out the optional gene panel to keep the model small. Split: 60 / 20 /
# 20, stratified; the validation part chooses, the test part only reports.

# %%
ds = data.load("clinic", n_samples=2000, seed=0, scan_size=32, genes=False)
train, val, test = ds.split((0.6, 0.2, 0.2), seed=0, stratify="diagnosis")
ehr_prep = TabularPreprocessor(indicators="missing-only").fit(np.log1p(train.modalities["ehr"]))


def model_inputs(part) -> dict:
    """Scan as is, EHR log-transformed + standardised + missing flags, note token ids."""
    m = part.modalities
    return {"scan": m["scan"], "ehr": ehr_prep.transform(np.log1p(m["ehr"])), "note": m["note"]}


X = {"train": model_inputs(train), "val": model_inputs(val), "test": model_inputs(test)}
Y = {"train": train.labels["diagnosis"], "val": val.labels["diagnosis"],
     "test": test.labels["diagnosis"]}
print({name: (a.shape[1:], str(a.dtype)) for name, a in X["train"].items()})

# %% [markdown]
# A small intermediate-fusion network (notebook 05): a CNN for the scan, a dense layer for the
# record, an embedding + 1-D convolution for the note, concatenated under a dense head. The
# output layer is created with `dtype="float32"` whatever the precision policy (section 4 says
# why). `policy` chooses the other layers' precision (`None`: the global policy); the model we
# deploy is float32 — the LiteRT converter quantizes from float32 itself.

# %%
def build_model(policy: str | None = "float32", seed: int = 0) -> keras.Model:
    """scan (32,32,1) + ehr (24,) + note (48,) int32 -> softmax over 4 diagnoses."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    scan = keras.Input((32, 32, 1), name="scan")
    ehr = keras.Input((X["train"]["ehr"].shape[1],), name="ehr")
    note = keras.Input((48,), dtype="int32", name="note")
    h = layers.Conv2D(8, 3, activation="relu", dtype=policy)(scan)
    h = layers.MaxPooling2D(2, dtype=policy)(h)
    h = layers.Conv2D(16, 3, activation="relu", dtype=policy)(h)
    h = layers.MaxPooling2D(2, dtype=policy)(h)
    h = layers.Conv2D(32, 3, activation="relu", dtype=policy)(h)
    h = layers.GlobalMaxPooling2D(dtype=policy)(h)
    e = layers.Dense(32, activation="relu", dtype=policy, name="ehr_dense")(ehr)
    t = layers.Embedding(len(ds.info["vocab"]), 16, dtype=policy)(note)
    t = layers.Conv1D(32, 3, activation="relu", dtype=policy)(t)
    t = layers.GlobalMaxPooling1D(dtype=policy)(t)
    z = layers.Concatenate(dtype=policy)([h, e, t])
    z = layers.Dense(64, activation="relu", dtype=policy)(z)
    out = layers.Dense(4, activation="softmax", dtype="float32", name="diagnosis")(z)
    return keras.Model({"scan": scan, "ehr": ehr, "note": note}, out)


# %%
model = build_model()
model.compile(keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(X["train"], Y["train"], validation_data=(X["val"], Y["val"]), epochs=12,
                    batch_size=64, verbose=0)


def accuracy(m, x, y) -> float:
    """Fraction of correct argmax predictions of a Keras model."""
    return float(np.mean(np.argmax(m.predict(x, verbose=0, batch_size=256), -1) == y))

# %% tags=["nbval-check-output"]
acc_val, acc_test = accuracy(model, X["val"], Y["val"]), accuracy(model, X["test"], Y["test"])
print(f"{model.count_params()} parameters; validation accuracy {acc_val:.3f}, "
      f"test accuracy {acc_test:.3f}")

# %%
assert acc_test >= 0.85, acc_test  # four classes, chance 0.30 (the largest class)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Graph compilation: eager, `tf.function`, XLA
#
# *Eagerly*, every layer call is a Python function call that dispatches each operation to a
# kernel one at a time. `tf.function` traces the Python once into a graph and then runs the graph
# from C++; `jit_compile=True` additionally hands the graph to XLA, which fuses chains of
# element-wise operations into single kernels. For a call that costs
#
# $$t \approx t_{\text{overhead}} + \frac{\text{FLOPs}}{\text{throughput}} ,$$
#
# graph mode removes most of $t_{\text{overhead}}$ (Python and per-op dispatch), XLA shrinks the
# memory traffic between fused ops. A small model at a small batch is all overhead, so graphs
# help most exactly there. The first call of a compiled function traces (and XLA compiles): we
# time only the calls after a warm-up, as the median of 5 runs of 3 calls each.

# %%
batch64 = {k: v[:64] for k, v in X["test"].items()}
modes = {
    "eager": lambda x: model(x, training=False),
    "tf.function": tf.function(lambda x: model(x, training=False)),
    "tf.function + XLA": tf.function(lambda x: model(x, training=False), jit_compile=True),
}
timings = {mode: np.median(deploy.time_ms(fn, batch64, repeats=5, number=3, warmup=2))
           for mode, fn in modes.items()}
for mode, ms in timings.items():
    print(f"{mode:18s} {ms:6.2f} ms per batch of 64   ({timings['eager'] / ms:4.1f}x eager)")

# %%
outputs = {mode: fn(batch64).numpy() for mode, fn in modes.items()}
assert all(np.allclose(o, outputs["eager"], atol=1e-5) for o in outputs.values())
assert timings["tf.function"] < timings["eager"] / 2, timings  # graph at least 2x faster

# %% [markdown]
# The three give the same probabilities (to 10⁻⁵), and the graph is at least twice as fast as
# eager execution (asserted; the printed ratio moves with the machine's load, so the margin is
# wide). Whether XLA adds more depends on how much of the time sits in small element-wise ops
# (little here: the convolutions dominate); on this CPU it may well add nothing — measure before
# relying on it. `model.fit` and `model.predict` already run a `tf.function`;
# `model.compile(jit_compile=True)` asks for XLA.
# Only direct calls `model(x)` run eagerly — fine for debugging, slow for serving.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Mixed precision (混合精度)
#
# float16 has a 10-bit mantissa and a 5-bit exponent: relative rounding error
# $\varepsilon = 2^{-11} \approx 4.9\cdot 10^{-4}$, largest value 65 504, smallest normal
# $6.1\cdot 10^{-5}$. On GPUs with tensor cores a float16 matrix product is several times faster
# than float32 and moves half the bytes. *Mixed* precision (Micikevicius et al. 2018) keeps what
# float16 would break in float32:
#
# - **master weights** are float32 variables; each layer casts them to float16 for its
#   computation ($W_{16} = \mathrm{fp16}(W_{32})$), so small updates $W_{32} - \eta g$ are not
#   rounded away;
# - **loss scaling**: the loss is multiplied by $S$ (e.g. $2^{15}$) before backpropagation and the
#   gradients divided by $S$ afterwards, so small gradients do not underflow to zero (Keras wraps
#   the optimizer in a `LossScaleOptimizer` automatically);
# - **the output layer** (softmax, the loss) runs in float32 — probabilities near 0 and 1 and the
#   logarithm in the loss need the range.
#
# On a CPU there are no float16 units: float16 math is emulated and slower, so the course turns it
# on only where a GPU is found (`setup_notebook(mixed_precision=True)` did exactly that above).

# %%
if info.gpus:  # the global policy is mixed_float16 (setup_notebook): train a copy with it
    model_gpu = build_model(policy=None)  # compile() adds loss scaling
    model_gpu.compile(keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy")
    seconds = np.median(deploy.time_ms(
        lambda: model_gpu.fit(X["train"], Y["train"], epochs=1, batch_size=64, verbose=0),
        repeats=3)) / 1e3
    print(f"mixed_float16 on {info.gpus}: {seconds:.2f} s per epoch, validation accuracy "
          f"{accuracy(model_gpu, X['val'], Y['val']):.3f}")
else:
    print("No GPU: mixed precision skipped (float16 is emulated on a CPU, hence slower); "
          "policy", keras.mixed_precision.global_policy().name)

# %% [markdown]
# What the policy does to a model can be seen on any machine by giving the layers the policy
# explicitly: same weights (copied from the trained model), float16 computation, float32 output.

# %%
model_mp = build_model(policy="mixed_float16")
model_mp.set_weights(model.get_weights())
layer_dtypes = pd.DataFrame([{"layer": layer.name, "variables": layer.variable_dtype,
                              "computation": layer.compute_dtype}
                             for layer in model_mp.layers if layer.weights])
p32 = model(batch64, training=False).numpy()
p16 = model_mp(batch64, training=False)
print(layer_dtypes.to_string(index=False))

# %% tags=["nbval-check-output"]
mp_error = float(np.max(np.abs(p16.numpy() - p32)))
mp_agree = float(np.mean(np.argmax(p16, -1) == np.argmax(p32, -1)))
print(f"output dtype {p16.dtype.name}; max |p16 - p32| {mp_error:.0e}; "
      f"same class for {mp_agree:.0%} of 64 samples")

# %%
assert p16.dtype == "float32" and model_mp.layers[-1].compute_dtype == "float32"
assert all(v.dtype == "float32" for v in model_mp.weights)  # master weights stay float32
assert (layer_dtypes["computation"] == "float16").sum() == len(layer_dtypes) - 1
assert mp_error < 5e-3 and mp_agree >= 0.98, (mp_error, mp_agree)

# %% [markdown]
# float16 computation moved the probabilities by less than $5\cdot 10^{-3}$ (the asserted
# bound; a few times $\varepsilon$ per layer, accumulated) and changed at most one decision in 64.
# On a GPU the cell above also *trains* a copy in mixed precision (`compile` wraps the optimizer
# in a loss-scaling one); the same notebook runs with or without a GPU, and the model we deploy
# stays float32.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · LiteRT: float32, float16 and int8 (量化 quantization)
#
# LiteRT (formerly TensorFlow Lite) runs a model from one flatbuffer file on phones and embedded
# boards. Post-training quantization stores numbers in fewer bits:
#
# - **float16**: every weight rounded to float16 (half the bytes), converted back to float32 when
#   the model loads; the computation stays float32.
# - **int8** (Jacob et al. 2018): a real value $x$ is stored as an integer $q \in [-128, 127]$
#   with a scale $s$ and a zero point $z$, $x \approx s\,(q - z)$. Weights are quantized
#   symmetrically per output channel, $z = 0$ and $s_c = \max_i |W_{ic}| / 127$, so the rounding
#   error is at most $s_c/2$; activations get one $(s, z)$ per tensor, from the range they take on
#   a **representative dataset** (calibration; a few hundred training samples, keyed by input
#   name); biases are int32 with scale $s_{\text{in}} s_c$. Matrix products then run in integer
#   arithmetic.
#
# The conversion in `mmlib.deploy` (the model is first exported as a SavedModel):

# %%
mmlib.course.show_source(deploy.litert._convert_saved_model)

# %%
paths = deploy.export_litert_variants(model, WORK / "litert", representative_data=X["train"],
                                      num_calibration_samples=200)
report = deploy.deployment_report(model, paths, X["test"], Y["test"], n_runs=50, warmup=5)
lite = {q: deploy.LiteRTModel(p) for q, p in paths.items()}
report["latency_b64_ms"] = [timings["tf.function"] / 64] + [
    deploy.batch_latency_ms(lite[q], X["test"], 64) for q in paths]
report = report.rename(columns={"latency_ms": "latency_b1_ms"})

# %% tags=["nbval-check-output"]
print(report[["variant", "size_kb", "size_ratio", "accuracy", "accuracy_drop",
              "argmax_agreement"]].round({"size_kb": 1, "size_ratio": 2, "accuracy": 3,
                                          "accuracy_drop": 3, "argmax_agreement": 3})
      .to_string(index=False))

# %% [markdown]
# Latency per sample at batch 1 (one request at a time, as on a device) and at batch 64 (the
# per-call overhead shared by 64 samples), medians on this CPU (the `keras` row: the model as a
# `tf.function`, the way a SavedModel server runs it):

# %%
print(report[["variant", "latency_b1_ms", "latency_b64_ms"]].round(4).to_string(index=False))

# %%
drops = report.set_index("variant")["accuracy_drop"]
assert (drops[["float32", "float16", "int8"]] <= 0.01).all(), drops  # at most 1 point
sizes = report.set_index("variant")["size_bytes"]
assert sizes["int8"] < sizes["float16"] < sizes["float32"], sizes
lat = report.set_index("variant")
assert lat.loc["keras", "latency_b64_ms"] < lat.loc["keras", "latency_b1_ms"], lat
assert (lat.loc[["float32", "float16", "int8"], "latency_b1_ms"] < lat.loc["keras",
                                                                           "latency_b1_ms"]).all()

# %% [markdown]
# Every variant keeps the test accuracy within 1 point (asserted; here no loss at all, and int8
# agrees with the Keras model on all but a sample or two) and each precision step shrinks the
# file. Latency tells two stories. A Keras graph call carries a fixed overhead of milliseconds
# (the TensorFlow runtime), so a batch of 64 costs less per sample than 64 single calls
# (asserted; measured 3× to 60× less, depending on the machine's load). The LiteRT
# interpreter's per-call overhead is microseconds: at batch 1 every LiteRT variant is faster
# than the Keras graph (asserted), and its time is mostly the arithmetic itself, which batching
# does not reduce (compare the two latency columns). That is why LiteRT suits devices that
# answer one request at a time, and batched graphs suit servers.

# %% [markdown]
# **Does int8 really store one byte per weight?** The interpreter lists every tensor of the file
# (`get_tensor_details()`); `litert_tensors` marks those with a fixed shape that are not inputs
# or outputs as stored constants:

# %%
tensors = deploy.litert_tensors(paths["int8"])
int8_weights = tensors[(tensors["kind"] == "constant") & (tensors["dtype"] == "int8")]
kernels = {w.path: int(np.prod(w.shape)) for w in model.weights
           if w.path.endswith(("kernel", "embeddings"))}
print(int8_weights[["name", "shape", "dtype", "bytes", "n_scales"]].to_string(index=False))

# %%
assert sorted(int8_weights["n_elements"]) == sorted(kernels.values())
assert (int8_weights["bytes"] == int8_weights["n_elements"]).all()  # one byte per weight
biases = tensors[(tensors["kind"] == "constant") & (tensors["dtype"] == "int32")
                 & (tensors["n_scales"] > 0)]
assert biases["n_elements"].sum() == model.count_params() - sum(kernels.values())

# %% [markdown]
# Every kernel (and the note's embedding table) is an int8 tensor of exactly its number of
# weights in bytes, with one scale per output channel (the embedding: one per tensor); every
# bias is an int32 tensor. So why is the int8 file not a quarter of the float32 one? Because the
# file holds more than weights:

# %%
breakdown = pd.concat({q: deploy.litert_size_breakdown(p).set_index("part")["bytes"]
                       for q, p in paths.items()}, axis=1).fillna(0).astype(int)
breakdown = breakdown.loc[sorted(breakdown.index, key=lambda part: (
    not part.startswith("constants"), part == "rest"))]  # constants first, the rest last
breakdown.loc["file size"] = breakdown.sum()

# %% tags=["nbval-check-output"]
print(breakdown.to_string())
ratio = sizes["float32"] / sizes["int8"]
weights_ratio = (breakdown.loc["constants float32", "float32"]
                 / breakdown.loc["constants int8", "int8"])
print(f"file size float32 / int8 = {ratio:.2f}; weights alone: {weights_ratio:.2f}")

# %%
assert breakdown.loc["constants float32", "float32"] >= 4 * model.count_params()
assert 2.0 < ratio < 4.0, ratio

# %% [markdown]
# The float32 file stores 4 bytes per parameter (plus a few shape constants); the int8 file 1 byte
# per kernel weight and 4 per bias. What does not shrink is the rest: the operator graph, every
# tensor's shape, type and **name** (the long Keras layer paths), the signature and the
# flatbuffer's tables — plus, in int8, the quantization scales and zero points and the
# quantize/dequantize ops at the entry and exit. For a model this small, that fixed part is a large
# share of the file, so the file shrinks by less than the weights' 4× (the asserted range is 2–4);
# for a model with millions of weights the ratio approaches 4. The int8 latency depends on the
# CPU's integer kernels: on phones and microcontrollers int8 is the fast path, on this x86 CPU it
# need not be.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Magnitude pruning (剪枝)
#
# Model compression (模型压缩) by pruning sets the smallest weights to zero. With sparsity $s$,
# the mask of a weight matrix $W$ keeps the entries above the $s$-quantile of $|W|$,
#
# $$m_{ij} = \big[\, |W_{ij}| > \tau_s \,\big], \qquad W \leftarrow m \odot W ,$$
#
# layer by layer. Zeros compress well (gzip of the weights shrinks roughly by the factor $1-s$),
# and sparse kernels can skip them. Pruned once, a network loses accuracy quickly beyond some
# sparsity; pruned gradually while fine-tuning, the remaining weights adapt (Zhu & Gupta 2017).

# %%
mmlib.course.show_source(deploy.prune_by_magnitude)

# %%
def pruned_copy(sparsity: float) -> keras.Model:
    """A copy of the trained model, `sparsity` of all kernel weights zeroed (one threshold)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    if sparsity > 0:
        deploy.prune_by_magnitude(copy, sparsity, scope="global")
    return copy


# Magnitude masks are nested (the weights cut at 50 % include those cut at 30 %), so one copy
# pruned further and further gives every point of the sweep.
sweep_model, rows = pruned_copy(0.0), []
for target in (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9):
    if target > 0:
        deploy.prune_by_magnitude(sweep_model, target, scope="global")
    rows.append({"target": target, "sparsity": deploy.sparsity(sweep_model),
                 "val_accuracy": accuracy(sweep_model, X["val"], Y["val"]),
                 "gzip_kb": deploy.compressed_size(sweep_model) / 1024})
sweep = pd.DataFrame(rows)

# %% [markdown]
# One-shot pruning against gradual pruning: a copy is fine-tuned for 2 epochs while
# `PruningCallback` raises its sparsity from 0 to 80 % along the cubic schedule of Zhu & Gupta
# (during the first epoch) and keeps the pruned weights at zero.

# %%
tuned = pruned_copy(0.0)
tuned.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
steps_per_epoch = int(np.ceil(len(Y["train"]) / 64))
pruning = deploy.PruningCallback(deploy.PruningSchedule(0.8, end_step=steps_per_epoch,
                                                        frequency=5), scope="global")
tuned.fit(X["train"], Y["train"], epochs=2, batch_size=64, verbose=0, callbacks=[pruning])
tuned_row = {"sparsity": deploy.sparsity(tuned),
             "val_accuracy": accuracy(tuned, X["val"], Y["val"]),
             "gzip_kb": deploy.compressed_size(tuned) / 1024}

# %% tags=["nbval-check-output"]
print(sweep.round(3).to_string(index=False))
print("gradual pruning + fine-tuning:", {k: round(v, 3) for k, v in tuned_row.items()})

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.plot(sweep["sparsity"] * 100, sweep["val_accuracy"], "o-", label="one-shot pruning")
ax1.plot(tuned_row["sparsity"] * 100, tuned_row["val_accuracy"], "*", markersize=14,
         label="gradual pruning + 2 epochs fine-tuning")
ax1.axhline(sweep["val_accuracy"][0] - 0.01, color="grey", linestyle="--",
            label="dense model − 1 point")
ax1.set(xlabel="sparsity (% of kernel weights set to zero)", ylabel="validation accuracy",
        title="Sparsity–accuracy trade-off")
ax1.legend(fontsize="small", loc="lower left")
ax2.plot(sweep["sparsity"] * 100, sweep["gzip_kb"], "o-")
ax2.set(xlabel="sparsity (% of kernel weights set to zero)", ylabel="gzip-compressed weights (kB)",
        title="Compressed size of the weights")
ax2.set_ylim(bottom=0)
fig.tight_layout()

# %%
dense_acc = sweep["val_accuracy"][0]
assert np.allclose(sweep["sparsity"], sweep["target"], atol=0.01)
assert np.all(np.diff(sweep["gzip_kb"]) < 0)  # every step of sparsity saves bytes
one_shot = sweep.set_index("target")["val_accuracy"]
assert sweep["gzip_kb"].iloc[-1] < 0.35 * sweep["gzip_kb"][0]  # 90 % zeros: < 35 % of the size
assert one_shot[0.5] >= dense_acc - 0.01  # half the weights go for free ...
assert one_shot[0.8] < dense_acc - 0.10  # ... 80 % at once breaks the model ...
assert tuned_row["val_accuracy"] >= dense_acc - 0.03, tuned_row  # ... 80 % gradually does not

# %% [markdown]
# Measured on the validation split, with margins in the asserts: one threshold over all kernels
# (`scope="global"`) removes half of the weights at once at a cost of at most 1 point; cut 80 %
# at once and the model loses more than 10 points; cut 80 % gradually while fine-tuning (two
# epochs) and it stays within 3 points of the dense model. The zeros show up in the compressed
# size (90 % zeros: under 35 % of the dense size, asserted). To make the saving real at run
# time, store the kernels sparsely or combine pruning with int8 quantization (Han et al. 2016);
# the plain dense LiteRT file of a pruned model is as large as before.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · Deployment (部署): a serving signature and input validation
#
# A served model is a function of named tensors. `export_saved_model` writes a SavedModel whose
# `serving_default` signature takes one tensor per modality, by name, with a free batch axis:

# %%
saved = deploy.export_saved_model(model, WORK / "saved_model")
served = tf.saved_model.load(str(saved)).signatures[deploy.SIGNATURE_KEY]
request = {k: v[:8] for k, v in X["test"].items()}
served_probs = served(**request)["diagnosis"].numpy()

# %% tags=["nbval-check-output"]
for name, spec in sorted(served.structured_input_signature[1].items()):
    print(f"{name}: shape {tuple(spec.shape)}, {spec.dtype.name}")
print("outputs:", {k: tuple(v.shape) for k, v in served.structured_outputs.items()})

# %%
assert np.allclose(served_probs, model(request, training=False).numpy(), atol=1e-6)
nan_request = {**request, "ehr": np.where(np.arange(24) == 3, np.nan, request["ehr"])}
nan_out = served(**{k: tf.constant(v, dtype=tf.float32 if k != "note" else tf.int32)
                    for k, v in nan_request.items()})["diagnosis"].numpy()
print("a NaN in the record goes through the bare signature:", np.isnan(nan_out).all())
assert np.isnan(nan_out).all()

# %% [markdown]
# The signature checks little: a NaN flows through and every probability comes out NaN, without
# an error. Production servers put a validation step in front. `ServingModel` checks each request
# against the model's input specification — present modalities, shapes, dtypes castable without
# loss of kind, finite values — and answers in words:

# %%
mmlib.course.show_source(deploy.ServingModel.predict)

# %% tags=["nbval-check-output"]
server = deploy.ServingModel(model, kinds={m: ds.kinds[m] for m in request})
good = request
bad = {
    "wrong shape": {**good, "scan": good["scan"][:, :28, :28]},
    "wrong dtype": {**good, "note": good["note"].astype("float32") + 0.5},
    "NaN": nan_request,
    "missing modality": {k: v for k, v in good.items() if k != "note"},
    "no batch axis": {k: v[0] for k, v in good.items()},
}
rejected = []
for problem, req in bad.items():
    try:
        server.predict(req)
    except ValueError as err:
        rejected.append(problem)
        print(f"{problem:>16}: {err}")
print("a good request:", server.predict(good).shape)

# %%
assert rejected == list(bad)
assert np.allclose(server.predict(good), served_probs, atol=1e-6)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · Monitoring data drift (数据漂移), modality by modality
#
# After deployment the inputs change: a new scanner, a new lab, a new patient population. Per
# feature we compare the live values with the training (reference) values:
#
# - the **population stability index** over $B$ bins of the reference's quantiles, with bin
#   proportions $p_b$ (reference) and $q_b$ (live),
#   $\mathrm{PSI} = \sum_{b=1}^{B} (q_b - p_b) \ln (q_b / p_b)$ — "large" above 0.2;
# - the **Kolmogorov–Smirnov** statistic $D = \max_x |F_{\text{ref}}(x) - F_{\text{live}}(x)|$ of
#   the two empirical distribution functions, with its p-value (Bonferroni-corrected over the
#   features of a modality) — "real" when $p < 0.05$.
#
# `drift_report` flags a modality when at least one of its features is both large and real (PSI
# alone raises false alarms on small batches, the KS test alone flags negligible shifts on large
# ones). The `clinic` card: site 1's scanner has another intensity calibration (gain 0.82, offset
# +0.1), a bias field and twice the noise. A live batch of 300 new patients (a fresh draw, seed 1)
# scanned at site 1 — with the training set's mix of diagnoses, so that only the scanner differs
# — against a control batch of 300 new patients from both sites, like the training data:

# %%
fresh = data.load("clinic", n_samples=1500, seed=1, scan_size=32, genes=False)
gen = np.random.default_rng(1)
mix = np.bincount(Y["train"]) / len(Y["train"])
site1 = np.concatenate([gen.choice(np.flatnonzero((fresh.metadata["site"] == 1)
                                                  & (fresh.labels["diagnosis"] == c)),
                                   int(round(300 * p)), replace=False)
                        for c, p in enumerate(mix)])
control = gen.choice(len(fresh), 300, replace=False)
batches = {"control (both sites)": fresh.subset(control), "site 1 only": fresh.subset(site1)}
drift = pd.concat({name: deploy.drift_report(train, b).set_index("modality")
                   for name, b in batches.items()}, names=["batch"])

# %% tags=["nbval-check-output"]
print(drift[["n_features", "psi_mean", "psi_max", "ks_max", "n_drifted_features", "drift"]]
      .round(3).to_string())

# %%
flags = drift["drift"].unstack("modality")
assert not flags.loc["control (both sites)"].any()  # no false alarm
assert flags.loc["site 1 only", "scan"]  # the new scanner is flagged ...
assert not flags.loc["site 1 only", ["ehr", "note"]].any()  # ... and nothing else

# %% [markdown]
# Only the scan is flagged, and only for the site-1 batch; the record and the note, whose
# distributions do not depend on the scanner, stay quiet — the report points at the modality to
# investigate. (Had we taken site 1's patients as they come, its larger share of malignant and
# inflamed patients would shift the record and the note too: a change of case mix is drift as
# well, and a reason to monitor every modality, not only the model's accuracy.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · Scaling out: distributed training (分布式训练) with `tf.distribute`
#
# Synchronous data parallelism: $R$ replicas hold the same weights $\theta$; each takes $B/R$ of
# a global batch of $B$ samples and computes the gradient of its **share of the mean loss**,
#
# $$g_r = \nabla_\theta \frac{1}{B} \sum_{i \in \text{replica } r} \ell_i(\theta), \qquad
#   \sum_{r=1}^{R} g_r = \nabla_\theta \frac{1}{B} \sum_{i=1}^{B} \ell_i(\theta) ,$$
#
# the replicas' gradients are summed (all-reduce) and every replica applies the same update. So
# for the same global batch, $R$ replicas compute the same weights as one device — only the order
# of floating-point additions differs. The training loop below runs unchanged under any strategy:

# %%
mmlib.course.show_source(deploy.train_with_strategy)

# %% [markdown]
# A small classifier on the health-record features, one epoch of SGD over 18 global batches of
# 64: on one device, mirrored over the two logical CPU devices (`MirroredStrategy`), and on two
# worker processes that talk over gRPC on 127.0.0.1 (`MultiWorkerMirroredStrategy`; each process
# reads its role from the `TF_CONFIG` environment variable — see `deploy.tf_config` — and runs
# `python -m mmlib.deploy.distribute`; `run_workers` starts them on free ports, with a timeout,
# and always stops them).

# %%
x_mlp, y_mlp = X["train"]["ehr"], Y["train"]
one_device = deploy.train_with_strategy(tf.distribute.get_strategy(), x_mlp, y_mlp,
                                        global_batch_size=64, learning_rate=0.1)
mirrored = tf.distribute.MirroredStrategy(devices)
two_devices = deploy.train_with_strategy(mirrored, x_mlp, y_mlp, global_batch_size=64,
                                         learning_rate=0.1)
two_workers = deploy.run_workers(x_mlp, y_mlp, n_workers=2, global_batch_size=64,
                                 learning_rate=0.1, timeout=150)


def max_difference(a: list, b: list) -> float:
    """Largest absolute difference between two lists of weight arrays."""
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b, strict=True))

# %% tags=["nbval-check-output"]
print("replicas:", mirrored.num_replicas_in_sync, "mirrored,", len(two_workers), "workers")
moved = max_difference(one_device, deploy.build_mlp(24, 4).get_weights())
print(f"training moved the weights by up to {moved:.2f}")
for name, w in [("2 devices", two_devices), ("2 workers", two_workers[0])]:
    print(f"{name} vs one device: max |Δw| < 1e-5: {max_difference(w, one_device) < 1e-5}")

# %%
for w in (two_devices, *two_workers):
    assert all(np.allclose(a, b, rtol=0, atol=1e-5) for a, b in zip(w, one_device, strict=True))
assert max_difference(two_workers[0], two_workers[1]) == 0.0  # workers hold identical copies
assert moved > 0.05  # the comparison is not between untrained models

# %% [markdown]
# Same weights to $10^{-5}$ (after changes of up to the printed size), and the two workers hold
# bit-identical copies. Here the replicas share two CPU cores, so nothing got faster: this shows
# the *mechanics*. What changes on real hardware:
#
# - **several GPUs in one machine**: `MirroredStrategy()` finds them itself and all-reduces with
#   NCCL; the per-replica batch is $B/R$, so to keep every GPU busy one grows $B$ with $R$ and
#   scales the learning rate with it (linear scaling with warm-up, Goyal et al. 2017);
# - **several machines**: `MultiWorkerMirroredStrategy` with one `TF_CONFIG` per machine (real
#   host names instead of 127.0.0.1); the input pipeline must be sharded so each worker reads
#   different data; the chief writes checkpoints, and a worker that dies stops the step, so
#   long jobs checkpoint and restart (`keras.callbacks.BackupAndRestore`); the network's
#   bandwidth bounds the all-reduce, so large models overlap communication with computation;
# - **batch normalisation** sees only the replica's $B/R$ samples unless synchronised
#   (`SyncBatchNormalization`); models too large for one device need model parallelism
#   (`keras.distribution.ModelParallel`, or a `ParameterServerStrategy` for huge embeddings).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10 · Widget: choose a precision and a batch size
#
# The measured table of section 5 as bars: file size, test accuracy and latency per sample, for
# the precision and batch size you pick (the highlighted bars). Nothing is re-measured while you
# click.

# %%
choices = pd.concat([
    report.assign(batch_size=b, latency_ms=report[f"latency_b{b}_ms"]) for b in (1, 64)])
choices = choices.rename(columns={"variant": "precision"})[list(mmlib.widgets.PRECISION_COLUMNS)]
choices = choices.sort_values("precision", key=lambda p: p == "keras", kind="stable")  # keras last
mmlib.widgets.precision_explorer(choices)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11 · Exercises
#
# **Exercise 1 (★★).** Quantize the kernel $W$ of the health record's first dense layer to int8
# by hand, per output channel and symmetrically ($z = 0$, $s_c = \max_i |W_{ic}| / 127$,
# $q = \mathrm{round}(W / s)$), and dequantize it back ($\hat W = s\,q$) — what the LiteRT
# converter stores for this layer.

# %%
W = model.get_layer("ehr_dense").kernel.numpy()  # (24, 32): inputs x output channels

# %% tags=["solution"]
scale = np.abs(W).max(axis=0) / 127
w_hat = np.round(W / scale) * scale

# %%
mmlib.check.int8_per_channel("Exercise 1", w_hat, W)

# %% [markdown]
# **Exercise 2 (★★).** Compute, without `drift_report`, the PSI of one summary feature — the mean
# pixel intensity of each scan — between the training scans (reference) and the site-1 batch,
# with 10 bins at the reference's deciles (live values outside the reference range go to the
# outer bins). Does this single feature already exceed 0.2?

# %%
ref_mean = train.modalities["scan"].mean(axis=(1, 2, 3))
live_mean = batches["site 1 only"].modalities["scan"].mean(axis=(1, 2, 3))

# %% tags=["solution"]
edges = np.quantile(ref_mean, np.arange(1, 10) / 10)
p_ref = np.bincount(np.searchsorted(edges, ref_mean, side="right"), minlength=10) / len(ref_mean)
p_live = np.bincount(np.searchsorted(edges, live_mean, side="right"), minlength=10) / len(
    live_mean)
p_live = np.maximum(p_live, 1e-4)  # an empty bin would make the logarithm infinite
psi_mean_intensity = float(np.sum((p_live - p_ref) * np.log(p_live / p_ref)))

# %%
mmlib.check.close("Exercise 2", psi_mean_intensity,
                  deploy.population_stability_index(ref_mean, live_mean), rtol=1e-3)
print(f"PSI of the mean scan intensity: {psi_mean_intensity:.2f}")

# %% [markdown]
# **Exercise 3 (★).** From the one-shot pruning sweep of section 6, pick the largest sparsity
# target whose validation accuracy stays within 1 point (0.01) of the dense model's.

# %% tags=["solution"]
within = sweep[sweep["val_accuracy"] >= sweep["val_accuracy"][0] - 0.01]
largest_safe_sparsity = float(within["target"].max())

# %%
mmlib.check.equal("Exercise 3", largest_safe_sparsity,
                  float(sweep["target"][sweep["val_accuracy"] >= dense_acc - 0.01].max()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - **Graph compilation**: `tf.function` removes Python and per-op overhead (asserted: at least
#   twice as fast as eager, same outputs); XLA (`jit_compile=True`) fuses ops — measure before
#   relying on it.
# - **Mixed precision**: float16 computation, float32 master weights, float32 output layer, loss
#   scaling; on only with a GPU (`setup_notebook(mixed_precision=True)`), a no-op on a CPU.
# - **Quantization (LiteRT)**: float16 halves the weights, int8 stores one byte per weight
#   (asserted from the file's tensors) with at most 1 point of accuracy lost; the file shrinks by
#   less than 4× because the graph, names and quantization parameters do not shrink.
# - **Pruning**: one-shot magnitude pruning is free up to a point (50 % here) and then breaks;
#   gradual pruning with fine-tuning keeps it at 80 %; the compressed size falls with the
#   share of weights kept.
# - **Serving**: a named signature per modality, and validation in front of it — a bare signature
#   lets NaN through; `ServingModel` rejects wrong shapes, dtypes, NaN and missing modalities in
#   words.
# - **Drift**: PSI + KS per modality flag the modality that changed (the new scanner) and no
#   other, and nothing on a batch like the training data.
# - **`tf.distribute`**: with the same global batch, two devices and two worker processes give
#   the same weights as one device; on GPUs and clusters the same code scales, with the batch,
#   the learning rate, input sharding and fault tolerance to think about.
#
# ## References
# - B. Jacob, S. Kligys, B. Chen, M. Zhu, M. Tang, A. Howard, H. Adam, D. Kalenichenko.
#   *Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
#   Inference.* CVPR, 2018.
# - P. Micikevicius, S. Narang, J. Alben, G. Diamos, E. Elsen, D. Garcia, B. Ginsburg, M. Houston,
#   O. Kuchaiev, G. Venkatesh, H. Wu. *Mixed Precision Training.* ICLR, 2018.
# - M. Zhu, S. Gupta. *To prune, or not to prune: exploring the efficacy of pruning for model
#   compression.* ICLR Workshop, 2018 (arXiv:1710.01878).
# - S. Han, H. Mao, W. J. Dally. *Deep Compression: Compressing Deep Neural Networks with Pruning,
#   Trained Quantization and Huffman Coding.* ICLR, 2016.
# - P. Goyal, P. Dollár, R. Girshick, P. Noordhuis, L. Wesolowski, A. Kyrola, A. Tulloch, Y. Jia,
#   K. He. *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour.* arXiv:1706.02677, 2017.
# - S. Rabanser, S. Günnemann, Z. C. Lipton. *Failing Loudly: An Empirical Study of Methods for
#   Detecting Dataset Shift.* NeurIPS, 2019.
# - TensorFlow guides: *Better performance with tf.function*, *XLA*, *Mixed precision*,
#   *Post-training quantization* (LiteRT), *Distributed training with TensorFlow*.
