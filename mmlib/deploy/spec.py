"""What a served model expects: :class:`ModalitySpec`, :func:`input_spec`, :func:`validate_inputs`.

A request to a served multimodal model is a dict ``{input name: (batch, ...) array}``;
:func:`validate_inputs` checks it against the model's :func:`input_spec` before the model sees it,
so that a missing modality, an unexpected key, a wrong shape or dtype, or NaN values are reported
in words (what was given, what was expected) instead of as a backend error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from mmlib._common import KINDS, check_kind
from mmlib.deploy._shared import model_input_names


def _check_kind_arg(argname: str, kind: Any) -> str | None:
    """``kind`` if it is ``None`` or one of :data:`mmlib._common.KINDS`, else raise naming it."""
    if kind is None:
        return None
    if not isinstance(kind, str):
        raise TypeError(f"{argname} must be a modality kind (one of {list(KINDS)}) or None, got "
                        f"{kind!r} of type {type(kind).__name__}.")
    return check_kind(argname, kind)


@dataclass(frozen=True)
class ModalitySpec:
    """What a served model expects for one named input.

    Attributes:
        name: the input name (the ``keras.Input(name=...)``), e.g. ``"image"``.
        shape: full shape including the batch axis; ``None`` marks a free axis, e.g.
            ``(None, 8, 8, 1)``.
        dtype: numpy dtype name, e.g. ``"float32"``.
        kind: the modality kind, one of :data:`mmlib._common.KINDS` (``"image"``, ``"audio"``,
            ``"tabular"``, ...), or ``None`` when unknown (e.g. the presence-mask input).
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    kind: str | None = None

    def __post_init__(self) -> None:
        _check_kind_arg("kind", self.kind)

    def describe(self) -> str:
        """``"image: (None, 8, 8, 1) float32"``, with the kind if known:
        ``"scan: image (None, 48, 48, 1) float32"`` — used in error messages."""
        kind = f"{self.kind} " if self.kind is not None else ""
        return f"{self.name}: {kind}{_shape_text(self.shape)} {self.dtype}"


def _shape_text(shape: Iterable[int | None]) -> str:
    """``(None, 8, 8, 1)``, ``(16,)``: a shape as Python prints a tuple, ``None`` = free axis."""
    dims = ["None" if d is None else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def input_spec(model: Any, kinds: Mapping[str, str] | None = None) -> dict[str, ModalitySpec]:
    """The serving specification of a model: input name → :class:`ModalitySpec`.

    Args:
        model: a built Keras model (functional or Sequential; the spec comes from
            ``model.inputs``), a :class:`~mmlib.deploy.LiteRTModel` (the spec comes from its
            signature) or a :class:`~mmlib.deploy.ServingModel` (anything with a ``.spec`` dict),
            or a mapping already in this form (values :class:`ModalitySpec` or
            ``(shape, dtype)`` tuples).
        kinds: optional ``{input name: kind}`` with kinds from :data:`mmlib._common.KINDS`, e.g.
            a dataset's ``ds.kinds`` restricted to the model's inputs. Inputs it names get that
            kind (replacing any kind already in the spec); inputs it leaves out keep theirs
            (``None`` for a Keras model). A name that is not an input of the model, or an
            unknown kind, raises ``ValueError``.

    Returns:
        ``{name: ModalitySpec(name, shape=(None, ...), dtype, kind)}`` in the model's input order.
    """
    spec = _spec_of(model)
    if kinds is None:
        return spec
    if not isinstance(kinds, Mapping):
        raise TypeError(f"kinds must be a dict mapping input name -> modality kind (e.g. a "
                        f"dataset's ds.kinds), got {type(kinds).__name__}.")
    unknown = [name for name in kinds if name not in spec]
    if unknown:
        raise ValueError(
            f"kinds names input(s) {unknown} that the model does not have; the model's inputs "
            f"are {list(spec)} (pass the kinds of those inputs only, e.g. "
            "{name: ds.kinds[name] for name in model_inputs if name in ds.kinds}).")
    for name, kind in kinds.items():
        spec[name] = dataclasses.replace(spec[name],
                                         kind=_check_kind_arg(f"kinds[{name!r}]", kind))
    return spec


def _spec_of(model: Any) -> dict[str, ModalitySpec]:
    if isinstance(model, Mapping):
        out = {}
        for name, spec in model.items():
            if isinstance(spec, ModalitySpec):
                out[str(name)] = spec
            elif isinstance(spec, tuple) and len(spec) == 2:
                shape, dtype = spec
                try:
                    dtype = np.dtype(dtype).name
                except TypeError:
                    raise TypeError(f"spec[{name!r}] has dtype {dtype!r}, which numpy does not "
                                    "understand; expected e.g. 'float32'.") from None
                out[str(name)] = ModalitySpec(str(name), tuple(shape), dtype)
            else:
                raise TypeError(
                    f"spec[{name!r}] must be a ModalitySpec or a (shape, dtype) tuple, got "
                    f"{spec!r}."
                )
        return out
    if isinstance(model, keras.Model):
        names = model_input_names(model)
        return {
            name: ModalitySpec(name, (None, *tuple(t.shape[1:])), np.dtype(t.dtype).name)
            for name, t in zip(names, model.inputs, strict=True)
        }
    if isinstance(getattr(model, "spec", None), Mapping):  # LiteRTModel, ServingModel
        return _spec_of(model.spec)
    raise TypeError(
        "spec must be a keras.Model, a LiteRTModel, a ServingModel or a dict of ModalitySpec, "
        f"got {type(model).__name__}."
    )


def validate_inputs(
    inputs: Mapping[str, Any],
    spec: Any,
    *,
    allow_extra: bool = False,
    strict_dtype: bool = False,
    check_finite: bool = True,
) -> dict[str, np.ndarray]:
    """Check a request against a model's input spec; return the arrays cast to the spec's dtypes.

    Checks, each raising ``ValueError`` with a message that names the input, shows what was given
    and what was expected: a missing modality (lists the expected names), an unexpected extra key
    (unless ``allow_extra``), an array without the batch axis or of the wrong rank or shape
    (fixed axes must match, ``None`` axes are free), batch sizes that differ between modalities,
    a dtype that cannot be cast to the expected one with numpy's ``"same_kind"`` rule (e.g.
    ``float64`` → ``float32`` is accepted, float → ``int32`` token ids or strings → float are
    not; with ``strict_dtype=True`` the dtype must match exactly), and NaN/inf values
    (``check_finite``).

    Args:
        inputs: ``{name: (batch, ...) array}``.
        spec: a Keras model, a :class:`~mmlib.deploy.LiteRTModel`, a
            :class:`~mmlib.deploy.ServingModel`, or the dict returned by :func:`input_spec`.
        allow_extra: ignore keys the model does not use instead of raising.
        strict_dtype: require the exact dtype.
        check_finite: reject NaN and infinite values in floating-point inputs.

    Returns:
        ``{name: np.ndarray}`` with exactly the model's inputs, in the spec's order and dtypes.
    """
    spec = input_spec(spec)
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict mapping input name -> array, got "
                        f"{type(inputs).__name__}.")
    expected = list(spec)
    missing = [name for name in expected if name not in inputs]
    if missing:
        raise ValueError(
            f"inputs is missing modality {missing[0]!r}" + (f" (all missing: {missing})"
                                                            if len(missing) > 1 else "")
            + f"; expected inputs {expected}, got keys {list(inputs)}."
        )
    extra = [key for key in inputs if key not in spec]
    if extra and not allow_extra:
        raise ValueError(f"inputs has unexpected key(s) {extra}; the model expects exactly "
                         f"{expected}.")
    out: dict[str, np.ndarray] = {}
    batch_sizes: dict[str, int] = {}
    for name, s in spec.items():
        value = inputs[name]
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as err:  # ragged lists
            raise ValueError(f"inputs[{name!r}] could not be converted to an array ({err}); "
                             f"expected {s.describe()}.") from None
        want = np.dtype(s.dtype)
        if array.dtype != want:
            ok = (not strict_dtype and array.dtype.kind in "biuf"
                  and np.can_cast(array.dtype, want, casting="same_kind"))
            if not ok:
                rule = "exactly" if strict_dtype else "a dtype castable (same kind) to"
                raise ValueError(f"inputs[{name!r}] has dtype {array.dtype}, expected {rule} "
                                 f"{want} ({s.describe()}).")
        if array.ndim != len(s.shape):
            hint = ""
            if array.ndim == len(s.shape) - 1 and _dims_match(array.shape, s.shape[1:]):
                hint = " It looks like one sample without the batch axis: use x[None]."
            raise ValueError(f"inputs[{name!r}] has shape {_shape_text(array.shape)} (rank "
                             f"{array.ndim}), expected {_shape_text(s.shape)} (rank "
                             f"{len(s.shape)}, axis 0 = batch).{hint}")
        if not _dims_match(array.shape, s.shape):
            raise ValueError(f"inputs[{name!r}] has shape {_shape_text(array.shape)}, expected "
                             f"{_shape_text(s.shape)} (None = any size).")
        array = array.astype(want, copy=False)
        if check_finite and want.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"inputs[{name!r}] contains NaN or infinite values; expected finite "
                             "numbers (impute or mask missing values before serving).")
        out[name] = array
        batch_sizes[name] = array.shape[0]
    if len(set(batch_sizes.values())) > 1:
        raise ValueError(f"inputs have different batch sizes {batch_sizes}; every modality must "
                         "have the same number of samples on axis 0.")
    if out and next(iter(batch_sizes.values())) == 0:
        raise ValueError(f"inputs hold 0 samples (batch sizes {batch_sizes}); expected at least "
                         "1.")
    return out


def _dims_match(given: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(given) == len(expected) and all(
        e is None or int(g) == int(e) for g, e in zip(given, expected, strict=True))
