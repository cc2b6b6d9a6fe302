"""Data-parallel training with ``tf.distribute``: one device, several devices, several workers.

Synchronous data parallelism (数据并行): every replica holds a copy of the weights, takes its
share of the global batch, computes gradients, and the gradients are summed across replicas
(all-reduce) before one identical update is applied everywhere. Each replica scales its summed
per-sample loss by ``1 / global_batch_size`` (``tf.nn.compute_average_loss``), so the all-reduced
gradient is exactly the gradient of the mean loss over the global batch — the same update as one
device taking the whole batch, up to the order of floating-point additions (Goyal et al. 2017,
"Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", arXiv:1706.02677).

* :func:`split_cpu` — split the CPU into logical devices (before TensorFlow initialises) so that
  ``tf.distribute.MirroredStrategy`` can be tried without GPUs;
* :func:`build_mlp`, :func:`train_with_strategy` — a small classifier and a custom training loop
  (``strategy.run`` + ``strategy.reduce``) that runs unchanged under any strategy;
* :func:`run_workers` — start ``n`` worker processes on 127.0.0.1 with ``TF_CONFIG`` for
  ``tf.distribute.MultiWorkerMirroredStrategy``; each runs this module (``python -m
  mmlib.deploy.distribute``), trains and writes its final weights; timeouts, always cleaned up.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmlib._validate import check_float, check_int

WORKER_TIMEOUT_S = 120.0
"""Default limit (seconds) for :func:`run_workers`: the workers are killed after it."""


def split_cpu(n_devices: int = 2) -> list[str]:
    """Split the first physical CPU into ``n_devices`` logical CPU devices; return their names.

    ``tf.distribute.MirroredStrategy`` mirrors a model over the devices it is given; on a machine
    without GPUs, logical CPU devices (``/device:CPU:0``, ``/device:CPU:1``, ...) stand in for
    GPUs (they share the same cores, so nothing gets faster: this is for learning and testing).
    Logical devices can only be configured before TensorFlow initialises its runtime (the first
    op, the first tensor, the first model); call this right after :func:`mmlib.setup_notebook`.
    Calling it again with the same ``n_devices`` is a no-op.

    Args:
        n_devices: number of logical CPU devices (≥ 1).

    Returns:
        The logical CPU device names, e.g. ``["/device:CPU:0", "/device:CPU:1"]``.
    """
    n_devices = check_int("n_devices", n_devices, minimum=1)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n_devices)])
    except RuntimeError:
        have = tf.config.list_logical_devices("CPU")
        if len(have) == n_devices:
            return [d.name for d in have]
        raise RuntimeError(
            f"split_cpu(n_devices={n_devices}) came too late: TensorFlow is already initialised "
            f"with {len(have)} logical CPU device(s). Call it in the first code cell, right after "
            "mmlib.setup_notebook(), before any tensor or model is created (restart the "
            "kernel).") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def build_mlp(n_features: int, n_classes: int, hidden: int = 32, seed: int = 0) -> Any:
    """``n_features → Dense(hidden, relu) → Dense(n_classes)`` (logits), seeded initial weights,
    float32 layers (whatever the global precision policy).

    Inputs ``(batch, n_features)`` float32, outputs ``(batch, n_classes)`` logits. The seeds of
    the initialisers make the initial weights a function of ``seed`` alone, wherever it is built
    (any strategy scope, any process).
    """
    import keras

    n_features = check_int("n_features", n_features, minimum=1)
    n_classes = check_int("n_classes", n_classes, minimum=2)
    hidden = check_int("hidden", hidden, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    return keras.Sequential([  # float32 whatever the global policy: replicas must agree
        keras.Input((n_features,)),
        keras.layers.Dense(hidden, activation="relu", dtype="float32",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed)),
        keras.layers.Dense(n_classes, dtype="float32",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1)),
    ])


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (samples, features), got shape {x.shape}.")
    if y.shape != (x.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(f"y must be ({x.shape[0]},) integer class labels, got shape {y.shape} "
                         f"and dtype {y.dtype}.")
    return x, y.astype(np.int32)


def train_with_strategy(strategy: Any, x: Any, y: Any, *, global_batch_size: int = 64,
                        epochs: int = 1, learning_rate: float = 0.1, hidden: int = 32,
                        seed: int = 0) -> list[np.ndarray]:
    """Train :func:`build_mlp` with plain SGD under ``strategy``; return the final weights.

    The data are cut into consecutive global batches of ``global_batch_size`` (no shuffling; the
    last incomplete batch is dropped) and distributed with
    ``strategy.experimental_distribute_dataset``: each of the ``R`` replicas gets
    ``global_batch_size / R`` samples of every global batch (with several workers, data
    auto-sharding splits each global batch between the workers). Per replica the loss is
    ``Σ_i ℓ_i / global_batch_size`` (``tf.nn.compute_average_loss``); the optimizer all-reduces
    (sums) the replicas' gradients, so every replica applies the gradient of the mean loss over the
    global batch. With the same ``global_batch_size`` every strategy therefore computes the same
    weights (up to float rounding).

    Args:
        strategy: a ``tf.distribute.Strategy`` (``tf.distribute.get_strategy()`` is the default,
            one-device strategy).
        x: ``(n, d)`` float features.
        y: ``(n,)`` integer labels in ``[0, n_classes)``; ``n_classes = max(y) + 1`` (at least 2).
        global_batch_size: samples per optimizer step over all replicas; a multiple of the number
            of replicas.
        epochs: passes over the data.
        learning_rate: SGD step size.
        hidden: hidden units of the MLP.
        seed: seed of the initial weights.

    Returns:
        The model's weights (``model.get_weights()``) after training.
    """
    import keras
    import tensorflow as tf

    x, y = _check_xy(x, y)
    global_batch_size = check_int("global_batch_size", global_batch_size, minimum=1,
                                  maximum=x.shape[0])
    epochs = check_int("epochs", epochs, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, include_min=False)
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(f"global_batch_size must be a multiple of the {replicas} replicas, got "
                         f"{global_batch_size}.")
    n_classes = max(int(y.max()) + 1, 2)
    with strategy.scope():
        model = build_mlp(x.shape[1], n_classes, hidden, seed)
        optimizer = keras.optimizers.SGD(learning_rate)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = (tf.data.Dataset.from_tensor_slices((x, y))
            .batch(global_batch_size, drop_remainder=True).with_options(options))
    dist_data = strategy.experimental_distribute_dataset(data)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_sample = keras.losses.sparse_categorical_crossentropy(yb, logits,
                                                                      from_logits=True)
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    for _ in range(epochs):
        for batch in dist_data:
            step(batch)
    return [np.asarray(w) for w in model.get_weights()]


# --------------------------------------------------------------------------------------------
# several worker processes (MultiWorkerMirroredStrategy)
# --------------------------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on 127.0.0.1 right now (the OS picks them)."""
    n = check_int("n", n, minimum=1)
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on 127.0.0.1 ``ports``.

    ``{"cluster": {"worker": ["127.0.0.1:p0", ...]}, "task": {"type": "worker", "index": i}}``;
    worker 0 is the *chief* (it would write checkpoints and summaries).
    """
    if not isinstance(ports, (list, tuple)) or not ports:
        raise ValueError(f"ports must be a non-empty list of port numbers, got {ports!r}.")
    ports = [check_int("ports[i]", p, minimum=1, maximum=65535) for p in ports]
    index = check_int("index", index, minimum=0, maximum=len(ports) - 1)
    return {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": index}}


def run_workers(x: Any, y: Any, *, n_workers: int = 2, global_batch_size: int = 64,
                epochs: int = 1, learning_rate: float = 0.1, hidden: int = 32, seed: int = 0,
                timeout: float = WORKER_TIMEOUT_S) -> list[list[np.ndarray]]:
    """Train with ``MultiWorkerMirroredStrategy`` in ``n_workers`` local processes.

    Writes ``x``, ``y`` to a temporary folder, picks free ports on 127.0.0.1 and starts
    ``python -m mmlib.deploy.distribute`` once per worker with its ``TF_CONFIG``
    (:func:`tf_config`). Each worker creates the strategy, runs :func:`train_with_strategy`
    with the same arguments and saves its final weights. The processes are killed if they have
    not finished after ``timeout`` seconds, and always before this function returns.

    Returns:
        One list of weights per worker (the all-reduce keeps them identical).

    Raises:
        RuntimeError: a worker failed or timed out; the message holds the end of its log.
    """
    x, y = _check_xy(x, y)
    n_workers = check_int("n_workers", n_workers, minimum=1)
    timeout = check_float("timeout", timeout, minimum=0.0, include_min=False)
    args = {"global_batch_size": check_int("global_batch_size", global_batch_size, minimum=1),
            "epochs": check_int("epochs", epochs, minimum=1),
            "learning_rate": check_float("learning_rate", learning_rate, minimum=0.0,
                                         include_min=False),
            "hidden": check_int("hidden", hidden, minimum=1),
            "seed": check_int("seed", seed, minimum=0)}
    with tempfile.TemporaryDirectory(prefix="mmlib_workers_") as tmp:
        folder = Path(tmp)
        np.savez(folder / "data.npz", x=x, y=y)
        (folder / "args.json").write_text(json.dumps(args))
        ports = free_ports(n_workers)
        procs, logs = [], []
        try:
            for i in range(n_workers):
                env = {**os.environ, "TF_CONFIG": json.dumps(tf_config(ports, i)),
                       "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0",
                       "GRPC_VERBOSITY": "ERROR", "CUDA_VISIBLE_DEVICES": ""}
                log = open(folder / f"worker{i}.log", "wb")  # noqa: SIM115 (closed below)
                logs.append(log)
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "mmlib.deploy.distribute", str(folder)],
                    env=env, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + timeout
            for i, p in enumerate(procs):
                try:
                    code = p.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    raise RuntimeError(f"worker {i} did not finish within timeout={timeout} s; "
                                       f"end of its log:\n{_tail(folder / f'worker{i}.log')}"
                                       ) from None
                if code != 0:
                    raise RuntimeError(f"worker {i} exited with code {code}; end of its log:\n"
                                       f"{_tail(folder / f'worker{i}.log')}")
            results = []
            for i in range(n_workers):
                with np.load(folder / f"weights{i}.npz") as f:
                    results.append([f[f"w{k}"] for k in range(len(f.files))])
            return results
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for log in logs:
                log.close()


def _tail(path: Path, n_lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n_lines:])


def _worker_main(folder: str) -> None:
    """Entry point of one worker: strategy from ``TF_CONFIG``, train, save weights."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: before any other op
    folder_path = Path(folder)
    args = json.loads((folder_path / "args.json").read_text())
    with np.load(folder_path / "data.npz") as f:
        x, y = f["x"], f["y"]
    weights = train_with_strategy(strategy, x, y, **args)
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    np.savez(folder_path / f"weights{index}.npz", **{f"w{k}": w for k, w in enumerate(weights)})


if __name__ == "__main__":  # python -m mmlib.deploy.distribute FOLDER (started by run_workers)
    parser = argparse.ArgumentParser(description="One worker of mmlib.deploy.run_workers.")
    parser.add_argument("folder", help="folder with data.npz and args.json")
    _worker_main(parser.parse_args().folder)
