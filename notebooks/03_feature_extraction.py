# %% [markdown] slideshow={"slide_type": "slide"}
# # 03 · Feature extraction: one encoder per modality
#
# *Turn pixels, sounds and words into feature vectors — measure what each encoder learns against
# the strongest simple baseline, look into its feature space, and find out when pretraining pays.*
#
# **Learning objectives.** After this notebook you can
# 1. build an encoder (编码器) for each modality with `mmlib.encoders` — a CNN for images, a CNN
#    on the log-mel spectrogram for audio, an MLP for a table, embedding + GRU / 1-D CNN / small
#    Transformer for text — and count its parameters;
# 2. train unimodal baselines (单模态基线) and compare them in one honest table (accuracy,
#    parameters, training time) next to logistic regression on raw inputs and bags of words;
# 3. look into a learned feature space (特征空间) with PCA and measure it with k-nearest-neighbour
#    accuracy;
# 4. run transfer learning (迁移学习) offline: pretrain an encoder, then compare training from
#    scratch, frozen features and fine-tuning with 5 %, 20 % and 100 % of the labels, and say
#    where pretraining stops helping.
#
# **Prerequisites.** Notebook 01 (the datasets) and 02 (log-mel spectrograms, token ids); you
# have trained a classifier with a cross-entropy loss and know what a convolution is.
#
# **Estimated CPU time.** About 80 seconds on a 2-core CPU (measured: the median wall time in a
# fresh kernel, [benchmarks](../docs/benchmarks.md)); no GPU, no internet needed.

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
from sklearn import metrics, neighbors
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmlib import data, encoders

# %% [markdown]
# The small matrices of this notebook's scikit-learn and NumPy work run faster on one BLAS thread
# than on several that compete with TensorFlow's own threads, so we limit BLAS to one.

# %%
blas = threadpool_limits(limits=1, user_api="blas")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · What an encoder does
#
# Feature extraction (特征提取) is the first step of the seed article's pipeline (§3.2.1):
# preprocess each modality, then *encode* it (特征编码) with a deep network into a feature
# vector. An encoder is a function with weights $\theta$ from one modality's input space to
# $\mathbb{R}^d$,
#
# $$z = f_\theta(x) \in \mathbb{R}^d, \qquad
#   p(y \mid x) = \operatorname{softmax}(W z + b), \qquad
#   \mathcal{L} = -\frac{1}{N} \sum_{i=1}^{N} \log p(y_i \mid x_i).$$
#
# A *unimodal baseline* puts a softmax head on one encoder and trains both on one modality; the
# fusion notebooks (05) later combine the $z$ of several encoders. Here we train one encoder per
# modality and ask three questions: does it beat a simple model on the raw input, what does its
# feature space look like, and can an encoder trained on one task help another?
#
# Data: `av_digits` (a noisy, partly hidden handwritten digit + the spoken digit, audio as a
# log-mel spectrogram) and `shapes_captions` (captions for the text encoders, scenes for
# transfer learning). Every split below is seeded; no model sees a test set while training, and
# the logistic regressions choose their regularisation on a validation part of the training data.

# %%
av = data.load("av_digits", seed=0, audio_features="log_mel")
av_train, av_test = av.split((0.7, 0.3), seed=0, stratify="digit")
y_train, y_test = av_train.labels["digit"], av_test.labels["digit"]
digits = av.class_names("digit")
print(f"av_digits: {len(av_train)} training and {len(av_test)} test pairs; image "
      f"{av.modalities['image'].shape[1:]}, log-mel {av.modalities['audio'].shape[1:]}")


# %% [markdown]
# Two helpers used all along: `train_classifier` puts a softmax head on an encoder, trains it with
# Adam and records the test accuracy after every epoch (the evaluation is not counted in the
# training time); `logistic` is the simple baseline — logistic regression on standardised,
# flattened inputs, its regularisation $C$ chosen on a validation part of the training data.

# %%
def accuracy(model, x, y):
    """Share of test samples whose arg-max prediction is the label (one eager call)."""
    return float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x)), axis=1) == y))


# %%
def train_classifier(encoder, x, y, x_test, y_test, *, epochs, lr=1e-3, batch_size=64):
    """Encoder + softmax head trained with Adam: (model, test accuracy per epoch, seconds)."""
    mmlib.env.set_seed(0)  # the same shuffling order whatever ran before
    model = keras.Sequential([encoder, keras.layers.Dense(int(y.max()) + 1, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    curve, evaluating = [], [0.0]

    def evaluate(epoch, logs):
        start = time.perf_counter()
        curve.append(accuracy(model, x_test, y_test))
        evaluating[0] += time.perf_counter() - start
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=evaluate)])
    return model, curve, time.perf_counter() - start - evaluating[0]


# %%
def flat(x):
    return np.asarray(x, dtype="float32").reshape(len(x), -1)


def logistic(x, y, x_test, y_test, Cs=(0.01, 0.1, 1.0)):
    """Logistic regression on standardised flat inputs, its C picked on a validation part of the
    training data: (test accuracy, parameters, seconds, fitted model)."""
    start = time.perf_counter()
    x_fit, x_val, y_fit, y_val = train_test_split(flat(x), y, test_size=0.2, random_state=0,
                                                  stratify=y)
    make = lambda C: make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    best = max(Cs, key=lambda C: make(C).fit(x_fit, y_fit).score(x_val, y_val))
    model = make(best).fit(flat(x), y)
    clf, seconds = model[-1], time.perf_counter() - start
    return model.score(flat(x_test), y_test), clf.coef_.size + clf.intercept_.size, seconds, model


# %%
results = []  # one row per (modality, model) for the table of section 6


def record(modality, model_name, acc, params, seconds):
    results.append({"modality": modality, "model": model_name, "test accuracy": acc,
                    "parameters": int(params), "training time (s)": seconds})


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Images: a small convolutional network
#
# A convolutional neural network (卷积神经网络, CNN) slides the same $3 \times 3$ filters over
# every position of the image:
#
# $$h_{i,j,c'} = \operatorname{ReLU}\Big(b_{c'} + \sum_{u,v \in \{-1,0,1\}} \sum_{c=1}^{C}
#   W_{u,v,c,c'}\; x_{i+u,\,j+v,\,c}\Big),$$
#
# so a layer has $(9C + 1)\,C'$ weights whatever the image size, and a stroke is detected
# wherever it is. Max pooling halves the resolution after each block; flattening the last
# feature map keeps *where* each filter fired (a 6 and a 9 differ only by where their loop is),
# and a dense layer maps it to $z$. This is the library's code for that stack:

# %%
mmlib.course.show_source(encoders._cnn_head)

# %% [markdown]
# We train `image_cnn` (two blocks of 16 and 32 filters, a 64-dimensional feature, dropout 0.3)
# for 6 epochs on the 28 × 28 digit images, and the baseline: logistic regression on the 784
# raw pixels.

# %%
x_img, x_img_test = av_train.modalities["image"], av_test.modalities["image"]
image_cnn = encoders.image_cnn(input_shape=x_img.shape[1:], filters=(16, 32), embed_dim=64,
                               dropout=0.3, seed=0, name="image_cnn")
image_model, image_curve, seconds = train_classifier(image_cnn, x_img, y_train, x_img_test,
                                                     y_test, epochs=6)
record("image", "CNN (image_cnn)", image_curve[-1], image_model.count_params(), seconds)
record("image", "logistic regression, raw pixels",
       *logistic(x_img, y_train, x_img_test, y_test)[:3])

# %% [markdown]
# **Exercise 1.** How many weights (kernel + biases) does the *second* convolution of
# `image_cnn` have? It maps 16 channels to 32 with $3 \times 3$ kernels. Write the count as an
# arithmetic expression.

# %% tags=["solution"]
n_conv1 = (3 * 3 * 16 + 1) * 32

# %%
mmlib.check.equal("Exercise 1", n_conv1, image_cnn.get_layer("conv1").count_params())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Audio: a CNN on the log-mel spectrogram, and an MLP on a table
#
# The log-mel spectrogram $S_{t,m} = \log\big(\varepsilon + \sum_k M_{m,k}\,|X_{t,k}|^2\big)$
# (notebook 02) is a time × frequency image, so a 2-D CNN reads it too (Hershey et al., 2017).
# `audio_cnn` averages its last feature map over **time** only: *which* frequencies sound
# matters, *when* the word starts (a random onset here) should not. We standardise each mel band
# with training statistics and average groups of 4 frames (40 ms steps), which quarters the CPU.
#
# A sceptic's alternative is a **table** (表格数据): per mel band the mean, standard deviation and
# maximum over time, 96 named columns that forget the order of sounds. A multilayer perceptron
# (多层感知机, MLP), $h_{\ell} = \operatorname{ReLU}(W_\ell h_{\ell-1} + b_\ell)$, is the encoder
# for tables:

# %%
mmlib.course.show_source(encoders.tabular_mlp)

# %%
def log_mel_input(ds, mean, std):
    """(n, 77, 32, 1) log-mel -> standardised per band, 4 frames averaged: (n, 19, 32)."""
    s = (ds.modalities["audio"][..., 0] - mean) / std
    return s[:, :76].reshape(len(s), 19, 4, s.shape[2]).mean(axis=2)


band_mean = av_train.modalities["audio"][..., 0].mean(axis=(0, 1))
band_std = av_train.modalities["audio"][..., 0].std(axis=(0, 1))
x_mel, x_mel_test = (log_mel_input(d, band_mean, band_std) for d in (av_train, av_test))


# %%
def band_table(mel):
    """Per mel band: mean, std and max over time -> a DataFrame with 96 named columns."""
    stats = {"mean": mel.mean(axis=1), "std": mel.std(axis=1), "max": mel.max(axis=1)}
    return pd.DataFrame({f"mel{m:02d}_{k}": v[:, m] for k, v in stats.items()
                         for m in range(mel.shape[2])})


table, table_test = band_table(x_mel), band_table(x_mel_test)
table.iloc[:3, [0, 1, 32, 64]].round(2)

# %%
audio_cnn = encoders.audio_cnn(input_shape=x_mel.shape[1:], filters=(8, 16), embed_dim=64,
                               seed=0, name="audio_cnn")
audio_model, audio_curve, seconds = train_classifier(audio_cnn, x_mel, y_train, x_mel_test,
                                                     y_test, epochs=8, lr=3e-3)
record("audio", "CNN on log-mel (audio_cnn)", audio_curve[-1], audio_model.count_params(),
       seconds)

# %%
scaler = StandardScaler().fit(table)
z_table, z_table_test = scaler.transform(table), scaler.transform(table_test)
mlp = encoders.tabular_mlp(z_table.shape[1], hidden=(64, 32), dropout=0.2, seed=0, name="mlp")
mlp_model, mlp_curve, seconds = train_classifier(mlp, z_table, y_train, z_table_test, y_test,
                                                 epochs=10, lr=3e-3)
record("audio", "MLP on the band table (tabular_mlp)", mlp_curve[-1], mlp_model.count_params(),
       seconds)
record("audio", "logistic regression, band table",
       *logistic(table, y_train, table_test, y_test)[:3])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Text: embedding, then GRU, 1-D CNN or Transformer
#
# A text encoder first looks every token up in an embedding table (词嵌入), $e_t = E[w_t]$, then
# mixes the sequence $e_1, \dots, e_T$ into one vector. Three ways:
#
# * a **GRU**, a recurrent network (循环神经网络; Cho et al., 2014), reads left to right,
#   $u_t = \sigma(W_u e_t + U_u h_{t-1})$, $r_t = \sigma(W_r e_t + U_r h_{t-1})$,
#   $h_t = (1-u_t) \odot h_{t-1} + u_t \odot \tanh(W e_t + U (r_t \odot h_{t-1}))$, $z = h_T$;
# * a **1-D CNN** (Kim, 2014) detects $k$-word patterns,
#   $c_{t,f} = \operatorname{ReLU}(b_f + \sum_{s<k} w_{s,f} \cdot e_{t+s})$, $z_f = \max_t c_{t,f}$;
# * a **Transformer** (Vaswani et al., 2017) lets every token attend to every other,
#   $\operatorname{softmax}(QK^\top / \sqrt{d_k})\,V$, then averages over the real tokens.
#   Attention and averaging ignore order, so the only word-order information is the position
#   embedding (位置编码) added to each token, $e_t = E[w_t] + P_t$:

# %%
mmlib.course.show_source(encoders.PositionalEmbedding.call)

# %% [markdown]
# **A task where word order matters.** In `shapes_captions`, a caption such as *"a square is
# right of a small circle"* relates two shapes. We ask: *which kind of shape is on the left —
# or on top, for "above" / "below"?* The answer (circle, square or triangle) is read from the
# scene itself; the caption determines it, but only through word order: "a circle left of a
# square" and "a square left of a circle" have the same bag of words (词袋模型). The baselines
# are logistic regression on word counts (order lost) and on counts of 1- to 3-word sequences
# (n-grams: local order).

# %%
sc = data.load("shapes_captions", seed=0, image_size=24)  # small scenes: for section 9
vocab, shapes = sc.info["vocab"], sc.info["shapes"]


# %%
def leading_shape(ds):
    """Kind of the shape a two-shape caption puts left (or on top); -1 for other captions."""
    md, rows = ds.metadata, np.arange(len(ds))
    words = [set(text.split()) for text in md["caption_text"]]
    horizontal = np.array([bool(w & {"left", "right"}) for w in words])
    related = (md["n_shapes"] >= 2) & (horizontal | [bool(w & {"above", "below", "under"})
                                                     for w in words])
    a, b = md["caption_objects"][:, 0], md["caption_objects"][:, 1]
    where = np.where(horizontal[:, None], md["shape_x"], md["shape_y"])  # x or y (down)
    first_leads = where[rows, a] < where[rows, b]
    kind = np.where(first_leads, md["shape_kind"][rows, a], md["shape_kind"][rows, b])
    return np.where(related, kind, -1)


# %%
lead = leading_shape(sc)
use = np.flatnonzero(lead >= 0)
t_train, t_test = train_test_split(use, test_size=0.3, random_state=0, stratify=lead[use])
x_txt, x_txt_test = sc.modalities["caption"][t_train], sc.modalities["caption"][t_test]
l_train, l_test = lead[t_train], lead[t_test]
print(f"{len(use)} captions relate two shapes: {len(t_train)} for training, {len(t_test)} test")
pd.DataFrame({"caption": sc.metadata["caption_text"][t_train[:4]],
              "shape on the left / on top": np.array(shapes)[l_train[:4]]})

# %%
captions = sc.metadata["caption_text"]
bow_scores = {}
for name, ngrams in (("bag of words", (1, 1)), ("n-grams (1-3 words)", (1, 3))):
    counts = CountVectorizer(ngram_range=ngrams, token_pattern=r"\S+").fit(captions[t_train])
    x_counts, x_counts_test = (counts.transform(captions[i]).toarray() for i in (t_train, t_test))
    bow_scores[name] = logistic(x_counts, l_train, x_counts_test, l_test)
    record("text", f"logistic regression, {name}", *bow_scores[name][:3])
    if name == "bag of words":
        x_bow, x_bow_test = x_counts, x_counts_test  # raw text features for section 7

# %% [markdown]
# The three encoders get the same budget: 5 epochs, learning rate 0.01, 16-dimensional token
# embeddings (the Transformer: one block, 4 heads, a 32-dimensional model).

# %%
V, T = len(vocab), x_txt.shape[1]
text_encoders = {
    "GRU (text_rnn)": encoders.text_rnn(V, embed_dim=16, units=16, sequence_length=T,
                                        bidirectional=False, seed=0, name="gru"),
    "1-D CNN (text_cnn)": encoders.text_cnn(V, T, embed_dim=16, filters=16,
                                            kernel_sizes=(2, 3, 4), seed=0, name="cnn1d"),
    "Transformer (text_transformer)": encoders.text_transformer(
        V, T, embed_dim=32, num_heads=4, ff_dim=64, seed=0, name="transformer"),
}

# %%
text_models, text_curves = {}, {}
for name, encoder in text_encoders.items():
    text_models[name], text_curves[name], seconds = train_classifier(
        encoder, x_txt, l_train, x_txt_test, l_test, epochs=5, lr=1e-2)
    record("text", name, text_curves[name][-1], text_models[name].count_params(), seconds)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
for name, curve in text_curves.items():
    ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", label=name)
for (name, (score, *_)), style in zip(bow_scores.items(), (":", "--"), strict=True):
    ax.axhline(score, color="grey", linestyle=style, label=f"logistic regression, {name}")
ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.3, 1.02), xticks=range(1, 6),
       title="Which shape is on the left / on top? Test accuracy while training")
ax.legend(loc="lower right", fontsize="small")
plt.show()

# %% [markdown]
# The bag of words is right when the two shapes are of the same kind — then order does not
# matter — and guesses otherwise (measured below). n-grams recover part of the order ("circle
# is left", "left of a square"). Within the same 5 epochs the GRU and the 1-D CNN, which read
# words in order by construction, solve the task; the Transformer is still near the
# bag-of-words level: its attention and its average are blind to order until the position
# embeddings have learned which word comes first. A weaker inductive bias (归纳偏置) needs more
# data or more epochs — try `epochs=15` with two seeds: when does it take off?

# %%
pairs = sc.metadata["caption_objects"][t_test, :2]
kinds = np.take_along_axis(sc.metadata["shape_kind"][t_test], pairs, axis=1)
same_kind = kinds[:, 0] == kinds[:, 1]
bow_right = bow_scores["bag of words"][3].predict(x_bow_test) == l_test
print(f"same-kind pairs: {same_kind.mean():.2f} of the test captions; bag of words right on "
      f"{bow_right[same_kind].mean():.2f} of them, on {bow_right[~same_kind].mean():.2f} of "
      f"the others")

# %%
final = {name: curve[-1] for name, curve in text_curves.items()}
bow, ngrams = bow_scores["bag of words"][0], bow_scores["n-grams (1-3 words)"][0]
assert bow_right[same_kind].mean() > 0.9 and bow_right[~same_kind].mean() < 0.6
assert bow < 0.75 and ngrams > bow + 0.1
assert min(final["GRU (text_rnn)"], final["1-D CNN (text_cnn)"]) > 0.95
assert final["Transformer (text_transformer)"] < min(bow + 0.1, ngrams)

# %% [markdown]
# **Exercise 2.** The Transformer's last step averages the token vectors $h_t$ over the real
# tokens only (padding id 0 is masked): $z = \sum_t m_t h_t / \sum_t m_t$ with
# $m_t = [w_t \neq 0]$. Write `masked_mean(h, ids)` in NumPy for `h` of shape `(batch, T, d)`
# and `ids` of shape `(batch, T)`; the check compares it with the Transformer's own pooling.

# %% tags=["solution"]
def masked_mean(h, ids):
    mask = (ids != 0)[..., None]
    return (h * mask).sum(axis=1) / mask.sum(axis=1)


# %%
transformer = text_encoders["Transformer (text_transformer)"]
sequence = keras.Model(transformer.input, transformer.get_layer("encoder_block0").output)
ids = x_txt_test[:8]
mmlib.check.close("Exercise 2", masked_mean(keras.ops.convert_to_numpy(sequence(ids)), ids),
                  keras.ops.convert_to_numpy(transformer(ids)), rtol=1e-4, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · One table: every unimodal baseline
#
# Test accuracy, number of trained parameters and training time (seconds on this machine; they
# vary from run to run; for logistic regression including the choice of $C$) of every model,
# each modality's simple baselines next to its encoders.

# %%
table_all = pd.DataFrame(results).set_index(["modality", "model"])
table_all.round({"test accuracy": 3, "training time (s)": 1})

# %% tags=["nbval-check-output"]
print(table_all["test accuracy"].round(2).to_string())

# %% [markdown]
# What the table says (each point is asserted below):
# * **Images.** On 1,258 small, noisy, partly hidden digits, the CNN trained for 6 epochs is
#   about as accurate as logistic regression on the raw pixels (within 0.06): the digits are
#   8 × 8 originals upsampled, and a linear model on pixels is already strong.
# * **Audio.** The 96-column table of band statistics, with a linear model or an MLP, beats the
#   CNN trained for 8 epochs: the table *is* the invariance to the word's onset that the CNN has
#   to learn from 1,258 clips. Hand-made features that encode the right invariance win on small
#   data.
# * **Text.** Only the encoders that read word order by construction solve the task, with a
#   few thousand parameters.

# %%
acc = table_all["test accuracy"]
assert abs(acc["image", "CNN (image_cnn)"]
           - acc["image", "logistic regression, raw pixels"]) < 0.06
assert acc["audio", "logistic regression, band table"] > acc["audio", "CNN on log-mel (audio_cnn)"]
assert acc["audio", "MLP on the band table (tabular_mlp)"] > acc[
    "audio", "CNN on log-mel (audio_cnn)"]
assert acc["text", "1-D CNN (text_cnn)"] > acc["text", "logistic regression, n-grams (1-3 words)"]
params = table_all["parameters"]
assert max(params["text", "GRU (text_rnn)"], params["text", "1-D CNN (text_cnn)"]) < 10_000

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · What the encoders learned: feature spaces
#
# A good encoder puts samples of the same class close together. Two measures on the **test**
# samples, after standardising each feature: the accuracy of a 5-nearest-neighbour classifier
# fitted on the training features (it learns nothing itself, so it measures the geometry only),
# and the silhouette $s = \frac{1}{N}\sum_i \frac{b_i - a_i}{\max(a_i, b_i)}$ ($a_i$: mean
# distance to the own class, $b_i$: to the nearest other class; from −1 to 1). We compare the
# raw input with the learned feature $z$, and draw both with PCA (主成分分析): the two directions
# of largest variance, $X_c = U S V^\top$, points $X_c V_{:,1:2}$ (`mmlib.widgets.pca_2d`).

# %%
def features(encoder, x):
    return keras.ops.convert_to_numpy(encoder(x))


def geometry(train_f, test_f, y, y_test):
    """(5-NN test accuracy, silhouette of the test features) after standardising."""
    scaler = StandardScaler().fit(flat(train_f))
    a, b = scaler.transform(flat(train_f)), scaler.transform(flat(test_f))
    knn = neighbors.KNeighborsClassifier(n_neighbors=5).fit(a, y).score(b, y_test)
    return knn, metrics.silhouette_score(b, y_test)


# %%
spaces = {  # modality -> features name -> (training features, test features)
    "image": {"raw pixels": (x_img, x_img_test),
              "CNN": (features(image_cnn, x_img), features(image_cnn, x_img_test))},
    "audio": {"raw log-mel": (x_mel, x_mel_test), "band table": (table, table_test),
              "MLP on the table": (features(mlp, z_table), features(mlp, z_table_test)),
              "CNN on log-mel": (features(audio_cnn, x_mel), features(audio_cnn, x_mel_test))},
    "text": {"bag of words": (x_bow, x_bow_test)} | {
        name.split(" (")[0]: (features(encoder, x_txt), features(encoder, x_txt_test))
        for name, encoder in text_encoders.items()},
}

# %%
labels = {"image": (y_train, y_test, digits), "audio": (y_train, y_test, digits),
          "text": (l_train, l_test, list(shapes))}
model_of = {"raw pixels": "logistic regression, raw pixels", "CNN": "CNN (image_cnn)",
            "band table": "logistic regression, band table",
            "MLP on the table": "MLP on the band table (tabular_mlp)",
            "CNN on log-mel": "CNN on log-mel (audio_cnn)",
            "bag of words": "logistic regression, bag of words", "GRU": "GRU (text_rnn)",
            "1-D CNN": "1-D CNN (text_cnn)", "Transformer": "Transformer (text_transformer)"}

# %%
rows, views = [], {}
for modality, named in spaces.items():
    y_tr, y_te, names = labels[modality]
    for name, (f_train, f_test) in named.items():
        knn, sil = geometry(f_train, f_test, y_tr, y_te)
        rows.append({"modality": modality, "features": name, "dimensions": flat(f_test).shape[1],
                     "5-NN accuracy": knn, "silhouette": sil})
        views.setdefault(modality, {})[name] = mmlib.widgets.EmbeddingView.from_features(
            StandardScaler().fit_transform(flat(f_test)), y_te, names,
            acc[modality, model_of[name]] if name in model_of else None, knn)

# %% tags=["nbval-check-output"]
geometry_table = pd.DataFrame(rows).set_index(["modality", "features"])
print(geometry_table.round(2).to_string())

# %% [markdown]
# Every learned feature space puts more test samples next to training samples of their class
# (5-NN, by at least 3 points) than the raw input it was computed from — even the audio CNN,
# whose classifier lost to the table: its 64 numbers hold more class structure than the 608
# raw log-mel values, and the MLP's 32 features more than the 96 columns it reads. The
# silhouette agrees everywhere but for the audio CNN: its neighbourhoods are right, yet whole
# classes still overlap (the silhouette is about 0 for it and for the raw frames).

# %%
g, s = geometry_table["5-NN accuracy"], geometry_table["silhouette"]
for modality, raw, learned in [("image", "raw pixels", "CNN"),
                               ("audio", "raw log-mel", "CNN on log-mel"),
                               ("audio", "band table", "MLP on the table"),
                               ("text", "bag of words", "GRU"),
                               ("text", "bag of words", "1-D CNN")]:
    assert g[modality, learned] > g[modality, raw] + 0.03, (modality, learned)
    if learned != "CNN on log-mel":
        assert s[modality, learned] > s[modality, raw] + 0.05, (modality, learned)
assert max(abs(s["audio", "CNN on log-mel"]), abs(s["audio", "raw log-mel"])) < 0.1

# %%
fig, axes = plt.subplots(2, 3, figsize=(13, 8), layout="constrained")
for col, (modality, raw, learned) in enumerate([("image", "raw pixels", "CNN"),
                                                ("audio", "raw log-mel", "CNN on log-mel"),
                                                ("text", "bag of words", "GRU")]):
    for row, name in enumerate((raw, learned)):
        mmlib.widgets.embedding_figure(views[modality][name], f"{modality} · {name}",
                                       ax=axes[row, col], legend=row == 0)
fig.suptitle("Test samples in PCA coordinates: raw input (top) vs learned features (bottom)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · Widget: pick a modality and an encoder
#
# All the features above were computed once; the widget only picks one and draws it, with the
# accuracy of its classifier in the table (none for raw log-mel frames) and its 5-NN accuracy.
# Compare the four views of the audio, and the three text encoders.

# %%
mmlib.widgets.embedding_explorer(views)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · Transfer learning, done honestly offline
#
# Transfer learning (迁移学习) reuses an encoder $f_{\theta^*}$ pretrained (预训练) on a *source*
# task where labels are plentiful for a *target* task with few labels. Three regimes, on the same
# small labelled sets:
#
# * **from scratch** — random $\theta$, train everything on the target labels;
# * **frozen** (冻结) — keep $\theta^*$ and fit only a linear classifier on
#   $z = f_{\theta^*}(x)$ (a *linear probe*, 线性探针);
# * **fine-tuned** (微调) — start from $\theta^*$ *and* from the linear probe's head, then train
#   everything with a 3× smaller learning rate than from scratch (LP-FT, Kumar et al., 2022: a
#   random head would first send large gradients into the pretrained features).
#
# **Source task, with free labels.** A `shapes_captions` caption names every shape of its scene,
# so the paired text tells us — without anyone labelling images — *which kinds of shape* each
# image holds. We pretrain a small CNN on 2,000 scenes to predict those three words from the
# pixels (three sigmoid outputs; VirTex and CLIP learn image encoders from captions in the same
# spirit). **Target task.** *How many shapes are there?* (1, 2 or 3) on 1,000 *other* scenes:
# 500 to train, of which 5 %, 20 % or 100 % are labelled, and 500 to test. Two seeds draw the
# labelled subsets (nested: 5 % ⊂ 20 % ⊂ 100 %) and the random initialisations. The control for
# "is it the pretraining, or would any fixed features do?": a linear probe on a *random*,
# untrained CNN of the same shape. The scenes are drawn at 24 × 24 pixels (a knob of the
# dataset) to fit the 13 trainings of this section in the CPU budget.

# %%
kind_ids = [vocab.index(k) for k in shapes]
named_kinds = np.stack([(sc.modalities["caption"] == k).any(axis=1) for k in kind_ids], axis=1)
source, target = np.arange(2000), np.arange(2000, 3000)
pool, test = np.split(np.random.default_rng(0).permutation(target), [500])
x_scene, n_shapes = sc.modalities["image"], sc.metadata["n_shapes"].astype(int) - 1
x_tt, y_tt = x_scene[test], n_shapes[test]
print(f"source: {len(source)} scenes of {x_scene.shape[1:]}; share naming circle, square, "
      f"triangle: {named_kinds[source].mean(axis=0).round(2)}")
print(f"target: {len(pool)} training and {len(test)} test scenes; with 1 / 2 / 3 shapes: "
      f"{np.bincount(n_shapes[target])}")


# %%
def small_cnn(seed):
    """The transfer experiment's encoder: smaller than section 3's, so 13 trainings fit."""
    return encoders.image_cnn(input_shape=x_scene.shape[1:], filters=(8, 16), embed_dim=32,
                              seed=seed, name="scene_cnn")


mmlib.env.set_seed(0)
pretrained = small_cnn(0)
pretrain_model = keras.Sequential([pretrained, keras.layers.Dense(3, activation="sigmoid")])
pretrain_model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
history = pretrain_model.fit(x_scene[source], named_kinds[source].astype("float32"), epochs=4,
                             batch_size=32, shuffle=True, verbose=0)

# %% tags=["nbval-check-output"]
named_hat = keras.ops.convert_to_numpy(pretrain_model(x_scene[target])) > 0.5
prior = np.maximum(named_kinds[source].mean(axis=0), 1 - named_kinds[source].mean(axis=0))
print(f"source task on the 1,000 other scenes: {np.mean(named_hat == named_kinds[target]):.2f} "
      f"of the kind words right (always guessing the commoner answer: {prior.mean():.2f})")
assert prior.mean() + 0.05 < np.mean(named_hat == named_kinds[target]) < 0.8

# %% [markdown]
# The source task is far from solved after 4 epochs (compare with always guessing the commoner
# answer for each word) — and still its features will help.
# One compiled model serves every scratch and fine-tuning run: `train_from` loads the starting
# weights, zeroes Adam's state and trains for 12 epochs, at least 40 steps (a new model per
# run would make TensorFlow trace the training step again, about 2 s of CPU each time). It
# returns the test accuracy and the accuracy on the run's own training labels, which tells
# whether the budget was enough to fit them.

# %%
target_model = keras.Sequential([small_cnn(0), keras.layers.Dense(3, activation="softmax")])
target_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")


# %%
def train_from(weights, x, y, *, lr, seed, epochs=12, batch_size=32):
    """Train `target_model` from `weights`, fresh Adam state: (test, training accuracy)."""
    target_model.set_weights(weights)
    for variable in target_model.optimizer.variables:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    target_model.optimizer.learning_rate.assign(lr)
    steps = max(40, epochs * int(np.ceil(len(y) / batch_size)))
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(y)) for _ in range(steps * batch_size // len(y)
                                                                    + 1)])[:steps * batch_size]
    target_model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return accuracy(target_model, x_tt, y_tt), accuracy(target_model, x, y)


# %%
def linear_probe(encoder, x, y):
    """Logistic regression on frozen features: (test accuracy, fitted classifier)."""
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(features(encoder, x), y)
    return clf.score(features(encoder, x_tt), y_tt), clf


def fresh_head(seed):
    head = keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed))
    head.build((None, 32))
    return head.get_weights()


# %%
def regimes(labelled, seed):
    """{regime: (test accuracy, training accuracy or NaN)} trained on the scenes `labelled`."""
    x_l, y_l = x_scene[labelled], n_shapes[labelled]
    random_cnn = small_cnn(seed + 1)
    frozen, probe = linear_probe(pretrained, x_l, y_l)
    return {"random CNN, frozen": (linear_probe(random_cnn, x_l, y_l)[0], np.nan),
            "from scratch": train_from(random_cnn.get_weights() + fresh_head(seed), x_l, y_l,
                                       lr=3e-3, seed=seed),
            "pretrained, frozen": (frozen, np.nan),
            "pretrained, fine-tuned": train_from(pretrained.get_weights() + [
                probe.coef_.T, probe.intercept_], x_l, y_l, lr=1e-3, seed=seed)}


# %%
transfer = []
for seed in (0, 1):
    order = np.random.default_rng(100 + seed).permutation(pool)
    for fraction in (0.05, 0.2, 1.0):
        scores = regimes(order[:round(fraction * len(pool))], seed)
        transfer += [{"seed": seed, "labels": fraction, "regime": regime, "test accuracy": a,
                      "training accuracy": fit} for regime, (a, fit) in scores.items()]
transfer = pd.DataFrame(transfer)
mean = transfer.pivot_table(index="labels", columns="regime", values="test accuracy")[
    list(scores)]
fit = transfer.pivot_table(index="labels", columns="regime", values="training accuracy")

# %% tags=["nbval-check-output"]
print("test accuracy, mean of 2 seeds, by labelled share of the 500 training scenes")
print(mean.round(3).to_string())
print("\naccuracy on their own training labels at the end of the budget")
print(fit.round(2).to_string())

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.4), layout="constrained")
for regime in mean.columns:
    per_seed = transfer[transfer.regime == regime].pivot(index="labels", columns="seed",
                                                         values="test accuracy")
    line, = ax.plot(mean.index * 100, mean[regime], marker="o", label=regime)
    ax.fill_between(mean.index * 100, per_seed.min(axis=1), per_seed.max(axis=1),
                    color=line.get_color(), alpha=0.15)
ax.axhline(np.bincount(y_tt).max() / len(y_tt), color="grey", linestyle=":",
           label="always the commonest count")
ax.set(xscale="log", xticks=[5, 20, 100], xticklabels=["5 %", "20 %", "100 %"],
       xlabel="labelled share of the 500 training scenes (log scale)", ylabel="test accuracy",
       title="How many shapes? Encoder pretrained on the kinds named in captions\n"
             "(lines: mean of 2 seeds; bands: the two seeds' range)")
ax.legend(fontsize="small", loc="upper left")
plt.show()

# %% [markdown]
# Where pretraining helps, and where it stops helping (means of the two seeds, asserted below;
# the shaded bands span the two seeds):
# * **Few labels.** With 5 % of the labels (25 scenes) every trained model fits (over 90 % of)
#   its training set, so the differences are generalisation, not optimisation: frozen
#   pretrained features beat training from scratch and the random-CNN control by a wide
#   margin. Learning to name the kinds of shape taught the CNN to find shapes, which is what
#   counting needs. Fine-tuning on 25 labels is no better than freezing: it can only overfit.
# * **Frozen features stop helping** as labels grow: from 20 % to 100 % the linear probe gains
#   little — it can only reweight what the source task taught. Fine-tuning keeps improving,
#   because it can change the features; with 20 % or more of the labels, fine-tune.
# * **A caveat on the budget.** Every run gets 12 epochs. With 20 % and 100 % of the labels the
#   scratch CNN has not fitted its own training labels when the budget ends (under 90 %, table
#   above), so part of fine-tuning's lead there is saved training time, not better features; a
#   longer schedule would narrow it.

# %%
at = mean.loc
assert (fit.loc[0.05, ["from scratch", "pretrained, fine-tuned"]] > 0.9).all()
assert at[0.05, "pretrained, frozen"] > at[0.05, "from scratch"] + 0.08
assert at[0.05, "pretrained, frozen"] > at[0.05, "random CNN, frozen"] + 0.08
assert at[0.05, "pretrained, fine-tuned"] < at[0.05, "pretrained, frozen"] + 0.02
assert at[1.0, "pretrained, frozen"] - at[0.2, "pretrained, frozen"] < 0.03
assert at[1.0, "pretrained, fine-tuned"] - at[0.2, "pretrained, fine-tuned"] > 0.04
assert (mean["pretrained, fine-tuned"] > mean["from scratch"] + 0.05).all()
assert (fit.loc[[0.2, 1.0], "from scratch"] < 0.9).all()

# %% [markdown]
# **Exercise 3.** Fit the *frozen* regime yourself: a linear probe on the pretrained CNN's
# features for seed 0 with 20 % of the labels — the first 100 scenes of
# `np.random.default_rng(100).permutation(pool)`. Use `features(pretrained, x)` and
# `LogisticRegression(C=1.0, max_iter=5000)`, and give the probe's accuracy on `x_tt`, `y_tt`.

# %% tags=["solution"]
labelled = np.random.default_rng(100).permutation(pool)[:100]
probe = LogisticRegression(C=1.0, max_iter=5000).fit(features(pretrained, x_scene[labelled]),
                                                     n_shapes[labelled])
probe_accuracy = probe.score(features(pretrained, x_tt), y_tt)

# %%
row = transfer[(transfer.seed == 0) & (transfer.labels == 0.2)
               & (transfer.regime == "pretrained, frozen")]
mmlib.check.true("Exercise 3", isinstance(probe_accuracy, float)
                 and abs(probe_accuracy - row["test accuracy"].item()) < 1e-9,
                 "not the frozen regime's accuracy for seed 0 at 20 %: fit on the features of "
                 "the first 100 scenes of that order, score on the features of x_tt.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# - An encoder maps one modality to a feature vector $z = f_\theta(x)$; `mmlib.encoders` has one
#   per modality kind, each from a few thousand to a hundred thousand weights.
# - Compare encoders with the strongest simple baseline in the same table: logistic regression on
#   raw pixels matches a small CNN on tiny digits; a table of band statistics beats a log-mel CNN
#   trained briefly; only encoders that read word order by construction (GRU, 1-D CNN) solve a
#   task that depends on it within a few epochs — the Transformer must first learn order.
# - A learned feature space groups the classes better than the raw input (5-NN accuracy), even
#   where the end-to-end accuracy is no better.
# - Pretraining on free labels from a paired modality (the caption) helps most when target
#   labels are scarce — freeze the encoder then; frozen features saturate as labels grow, and
#   fine-tuning keeps improving.
#
# ## References
# - Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. *Gradient-Based Learning Applied to Document
#   Recognition.* Proceedings of the IEEE, 1998.
# - S. Hershey et al. *CNN Architectures for Large-Scale Audio Classification.* ICASSP, 2017.
# - K. Cho et al. *Learning Phrase Representations using RNN Encoder–Decoder for Statistical
#   Machine Translation.* EMNLP, 2014.
# - Y. Kim. *Convolutional Neural Networks for Sentence Classification.* EMNLP, 2014.
# - A. Vaswani et al. *Attention Is All You Need.* NeurIPS, 2017.
# - J. Yosinski, J. Clune, Y. Bengio, H. Lipson. *How Transferable Are Features in Deep Neural
#   Networks?* NeurIPS, 2014.
# - G. Alain, Y. Bengio. *Understanding Intermediate Layers Using Linear Classifier Probes.* ICLR
#   Workshop, 2017.
# - A. Kumar, A. Raghunathan, R. Jones, T. Ma, P. Liang. *Fine-Tuning Can Distort Pretrained
#   Features and Underperform Out-of-Distribution.* ICLR, 2022.
# - K. Desai, J. Johnson. *VirTex: Learning Visual Representations from Textual Annotations.*
#   CVPR, 2021.
# - A. Radford et al. *Learning Transferable Visual Models From Natural Language Supervision.*
#   ICML, 2021.
# - P. J. Rousseeuw. *Silhouettes: A Graphical Aid to the Interpretation and Validation of
#   Cluster Analysis.* Journal of Computational and Applied Mathematics, 1987.
