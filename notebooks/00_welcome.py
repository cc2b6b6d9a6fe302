# %% [markdown] slideshow={"slide_type": "slide"}
# # 00 · Welcome to *Deep Learning for Multimodal Fusion*
#
# *How this course works: the map, the tools, the checks — and why every number here is reproducible.*
#
# **Learning objectives.** After this notebook you can
# 1. name the steps of a multimodal (多模态) deep-learning pipeline and find the notebook for each;
# 2. check that your machine runs the course (`mmcourse doctor`);
# 3. use the course's building blocks: `mmlib`, exercises with automatic checks, widgets, slides;
# 4. explain what makes a TensorFlow run reproducible (可复现性) and show it.
#
# **Prerequisites.** Python and NumPy; you have trained a small neural network before (any framework).
#
# **Estimated CPU time.** About 20 seconds on a 2-core laptop CPU; no GPU, no internet needed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Set-up: one line at the top of every notebook
#
# Every notebook starts by importing `mmlib`, the course's small helper library, and calling
# `mmlib.setup_notebook`. It seeds every random number generator, switches TensorFlow to
# deterministic ops, keeps TensorFlow's C++ log lines out of the outputs, sets one plot style and
# prints which devices you have. A GPU makes things faster; it is never required.

# %%
import mmlib

info = mmlib.setup_notebook(seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The course map
#
# Multimodal fusion (多模态融合) combines several *modalities* (模态) — images, text, audio, tables,
# point clouds, video, time series — so that a model can decide better than from any single one.
# The course walks the pipeline in order: **data → preprocessing → feature extraction → alignment →
# fusion → training strategies → robustness and interpretability → deployment**, then three case
# studies (medical diagnosis, autonomous driving, smart security). Notebooks not written yet are
# marked *coming*.

# %%
from IPython.display import Markdown

Markdown(mmlib.course.syllabus_markdown(link_prefix=""))

# %% [markdown]
# **Widget.** Pick a notebook to see what it teaches, which section of the seed article
# (深度学习在多模态融合中的应用) it answers, and which of the course's datasets it uses.
# Every notebook has at least one such widget; all a widget shows can also be computed without it.

# %%
mmlib.widgets.course_map()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Is this machine ready?
#
# The same check is available from a terminal as `mmcourse doctor`; it ends with a verdict and names
# the fix for anything missing.

# %%
import pandas as pd

from mmlib.cli import doctor_checks

checks = pd.DataFrame([vars(c) for c in doctor_checks()]).drop(columns="fix")
checks

# %%
assert (checks["status"] != "FAIL").all(), checks[checks["status"] == "FAIL"]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · How a notebook teaches: math, then the library's code, then use it
#
# Each idea comes as a short piece of math, then the **library's own code** (shown, not copied, so
# what you read is what runs), then an experiment whose claims are checked with `assert`.
# For example, the argument checks that give every `mmlib` function its clear error messages:

# %%
mmlib.course.show_source(mmlib._validate.check_int)

# %%
try:
    mmlib.env.set_seed(-1)
except ValueError as err:
    print(f"ValueError: {err}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Reproducibility (可复现性)
#
# A training run is a function of its data, its code and its *randomness*: weight initialisation
# $W_0 \sim \mathcal{N}(0, \sigma^2)$, the shuffling order of mini-batches, dropout masks. With a
# fixed seed $s$ every one of these draws is a deterministic function of $s$,
#
# $$\theta_T = \mathrm{train}(\mathcal{D}, s) ,$$
#
# provided the operations themselves are deterministic — parallel reductions on a GPU may sum in a
# different order each run, which is why `setup_notebook` calls
# `tf.config.experimental.enable_op_determinism()`. Below, a tiny model is trained three times:
# twice with seed 1 and once with seed 2.

# %%
import keras
import numpy as np


def tiny_run(seed: int) -> list[float]:
    """Train a 2-layer regressor for 3 epochs; return the per-epoch losses."""
    mmlib.env.set_seed(seed)
    x = np.random.default_rng(seed).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=True, verbose=0)
    return [round(v, 4) for v in history.history["loss"]]


# %% tags=["nbval-check-output"]
first, again, other = tiny_run(1), tiny_run(1), tiny_run(2)
print("seed 1:      ", first)
print("seed 1 again:", again)
print("seed 2:      ", other)

# %%
assert first == again, "same seed must give the same losses"
assert first != other, "a different seed must give different losses"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Exercises with automatic checks
#
# Exercises end with a check from `mmlib.check`. A passing check prints ✔; a failing one raises an
# error that says what differs, never the answer. In the student version of a notebook the cells
# marked *solution* are replaced by `...` for you to fill in.
#
# **Exercise 1.** *Early fusion* concatenates a 64-dimensional image feature with a 32-dimensional
# audio feature and maps the result with one dense layer to 10 classes. How many trainable
# parameters does that dense layer have? (Recall: a dense layer from $d$ to $k$ has a $d\times k$
# weight matrix and $k$ biases.)

# %% tags=["solution"]
n_params = (64 + 32) * 10 + 10

# %%
image_in, audio_in = keras.Input((64,)), keras.Input((32,))
head = keras.layers.Dense(10)
_ = head(keras.layers.Concatenate()([image_in, audio_in]))
mmlib.check.equal("Exercise 1", n_params, head.count_params())

# %% [markdown]
# **Exercise 2.** Call `tiny_run` so that it reproduces the losses printed for seed 2 above.

# %% tags=["solution"]
reproduced = tiny_run(2)

# %%
mmlib.check.equal("Exercise 2", reproduced, other)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · Slides
#
# Every notebook doubles as a slide deck: cells carry slide tags (*View → Property inspector* in
# JupyterLab shows them), and the decks in `slides/` are built from the notebooks, so the slides
# and the notebooks never disagree.
#
# ## Summary
# - The course follows one pipeline — data, preprocessing, features, alignment, fusion, training,
#   robustness, deployment — and three case studies; the map above links every notebook.
# - `mmlib.setup_notebook(seed=...)` starts every notebook: seeds, deterministic ops, quiet logs.
# - Same seed and deterministic ops → the same numbers; the checked output above proves it each
#   time the tests run.
# - Exercises end with automatic checks; widgets let you explore; every claim is an `assert`.
#
# ## References
# - P. P. Liang, A. Zadeh, L.-P. Morency. *Foundations and Trends in Multimodal Machine Learning:
#   Principles, Challenges, and Open Questions.* ACM Computing Surveys, 2024.
# - T. Baltrušaitis, C. Ahuja, L.-P. Morency. *Multimodal Machine Learning: A Survey and Taxonomy.*
#   IEEE TPAMI, 2019.
# - TensorFlow guide: *Determinism* (`tf.config.experimental.enable_op_determinism`).
