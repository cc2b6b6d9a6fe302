"""SavedModel export (导出): :func:`export_saved_model` and its signature :data:`SIGNATURE_KEY`.

The SavedModel is what TensorFlow Serving loads and what :func:`mmlib.deploy.to_litert` converts;
its ``serving_default`` signature takes one named tensor per modality.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from mmlib._common import output_names
from mmlib.deploy._shared import call_model, model_input_names, quiet_native_stderr

SIGNATURE_KEY = "serving_default"
"""Name of the signature written by :func:`export_saved_model` and read by
:class:`~mmlib.deploy.LiteRTModel`."""


def export_saved_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """Export ``model`` as a TensorFlow SavedModel with a named ``serving_default`` signature.

    The signature's input signature comes from ``model.inputs``: one ``tf.TensorSpec`` per input,
    named after the input (``keras.Input(name=...)``), with a free batch axis, e.g.
    ``image: (None, 8, 8, 1) float32``, ``vector: (None, 16) float32``. Its outputs are keyed by
    the model's output names (:func:`mmlib._common.output_names`: the keys of a dict output, else
    ``model.output_names``). The model runs in inference mode (``training=False``: dropout off,
    batch-norm moving statistics).

    Reload and serve with::

        fn = tf.saved_model.load(path).signatures["serving_default"]
        fn(image=x_img, vector=x_vec)   # -> {"probs": (batch, n_classes)}

    Args:
        model: a built functional or Sequential Keras model.
        path: directory to write (created; must not be an existing file).

    Returns:
        The SavedModel directory as a ``Path``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path must be a directory for the SavedModel, got existing file {path}.")
    names = model_input_names(model)
    out_names = output_names(model)
    specs = [tf.TensorSpec((None, *tuple(t.shape[1:])), t.dtype, name=n)
             for n, t in zip(names, model.inputs, strict=True)]

    def serve(*tensors):
        return call_model(model, dict(zip(names, tensors, strict=True)), names, out_names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE_KEY, fn=serve, input_signature=specs)
    with quiet_native_stderr():
        archive.write_out(str(path), verbose=False)
    return path
