"""A served model that validates every request first: :class:`ServingModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from mmlib._common import output_names
from mmlib.deploy._shared import call_model
from mmlib.deploy.litert import LiteRTModel
from mmlib.deploy.spec import ModalitySpec, input_spec, validate_inputs


class ServingModel:
    """A served model that validates every request before running it.

    Wraps a Keras model or a :class:`~mmlib.deploy.LiteRTModel`; :meth:`predict` first calls
    :func:`~mmlib.deploy.validate_inputs` (missing modality, unexpected key, wrong shape or dtype,
    NaN → a ``ValueError`` that says what was expected), then runs the model.

    Args:
        model: a built Keras model with named inputs, or a :class:`~mmlib.deploy.LiteRTModel`.
        kinds: optional ``{input name: modality kind}`` (e.g. a dataset's ``ds.kinds`` for the
            model's inputs), shown in :attr:`spec` and in error messages (see
            :func:`~mmlib.deploy.input_spec`).
        strict_dtype: require exact dtypes instead of same-kind casts.
        allow_extra: ignore unknown keys instead of rejecting the request.

    Attributes:
        spec: ``{name: ModalitySpec}`` of the model's inputs.
    """

    def __init__(self, model: Any, *, kinds: Mapping[str, str] | None = None,
                 strict_dtype: bool = False, allow_extra: bool = False) -> None:
        if not isinstance(model, (keras.Model, LiteRTModel)):
            raise TypeError(f"model must be a keras.Model or a LiteRTModel, got "
                            f"{type(model).__name__}.")
        self.model = model
        self.spec: dict[str, ModalitySpec] = input_spec(model, kinds=kinds)
        self.strict_dtype = bool(strict_dtype)
        self.allow_extra = bool(allow_extra)

    def validate(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Return the checked, cast inputs or raise ``ValueError`` (see ``validate_inputs``)."""
        return validate_inputs(inputs, self.spec, allow_extra=self.allow_extra,
                               strict_dtype=self.strict_dtype)

    def predict(self, inputs: Mapping[str, Any]) -> np.ndarray | dict:
        """Validate ``{name: (batch, ...)}`` and return the model's outputs as numpy arrays.

        Returns:
            ``(batch, ...)`` array for a single-output model, else ``{output name: array}``.
        """
        arrays = self.validate(inputs)
        if isinstance(self.model, LiteRTModel):
            return self.model.predict(arrays)
        out = call_model(self.model, arrays, list(self.spec), output_names(self.model))
        out = {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}
        return next(iter(out.values())) if len(out) == 1 else out
