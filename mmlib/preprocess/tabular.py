"""Tables: :class:`TabularPreprocessor`, a scikit-learn style ``fit`` / ``transform`` that
standardises numeric columns, one-hot encodes categorical ones and adds missing-value indicators.

NumPy (and pandas for DataFrames) only: no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mmlib._validate import check_choice

__all__ = ["TabularPreprocessor"]


def _is_missing(values: np.ndarray) -> np.ndarray:
    """Elementwise missing test for object or numeric arrays (None, NaN, pd.NA, NaT)."""
    try:
        import pandas as pd

        return np.asarray(pd.isna(values), dtype=bool)
    except ImportError:  # pragma: no cover - pandas is a dependency
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])


class TabularPreprocessor:
    """Standardise numeric columns, one-hot encode categorical columns, flag missing values.

    scikit-learn style: :meth:`fit` learns the statistics on training rows, :meth:`transform`
    applies them to any rows, giving a float32 matrix ``(n, n_features_out_)`` in this column
    order:

    1. numeric columns, standardised: ``(x - mean_) / scale_`` with the mean and population
       standard deviation computed **ignoring missing values**; a missing value becomes 0 (the
       mean); ``scale_`` is 1 for constant columns;
    2. for ``indicators="all"``, one 0/1 indicator per numeric column (``"<col>__missing"``), 1
       where the value was missing (``"missing-only"``: only for columns with missing values in
       ``fit``; ``"none"``: no indicators);
    3. per categorical column, one-hot columns for the categories seen in ``fit``
       (``"<col>=<category>"``, sorted) and — unless ``indicators="none"`` — one
       ``"<col>=__missing__"`` column. A category not seen in ``fit`` encodes as all zeros.

    Args:
        numeric: names (DataFrame) or indices (array) of numeric columns; default: every
            column with a numeric dtype (a DataFrame) or every column (an array).
        categorical: categorical columns; default: the non-numeric columns of a DataFrame.
        indicators: ``"all"`` (default: same output layout whatever the data),
            ``"missing-only"`` or ``"none"``.

    Fitted attributes: ``numeric_columns_``, ``categorical_columns_``, ``mean_``, ``scale_``,
    ``categories_`` (list of arrays), ``indicator_columns_``, ``n_features_in_``,
    ``feature_names_in_`` (DataFrame input), ``n_features_out_``.
    """

    def __init__(self, numeric: Sequence[Any] | None = None,
                 categorical: Sequence[Any] | None = None, indicators: str = "all") -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.indicators = check_choice("indicators", indicators, ("all", "missing-only", "none"))

    # helpers
    @staticmethod
    def _columns(X: Any) -> tuple[list[Any], dict[Any, np.ndarray], bool]:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            pd = None
        if pd is not None and isinstance(X, pd.DataFrame):
            return list(X.columns), {c: X[c].to_numpy() for c in X.columns}, True
        arr = np.asarray(X, dtype=object if np.asarray(X).dtype.kind in "OUS" else None)
        if arr.ndim != 2:
            raise ValueError(f"X must be a 2-D array or a DataFrame, got shape {arr.shape}.")
        return list(range(arr.shape[1])), {i: arr[:, i] for i in range(arr.shape[1])}, False

    @staticmethod
    def _as_float(col: Any, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, np.nan, dtype=np.float64)
        miss = _is_missing(values)
        try:
            out[~miss] = np.asarray(values[~miss], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"numeric column {col!r} holds non-numeric values: {err}") from None
        return out

    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn means, scales and categories from ``X`` (``(n, n_columns)`` DataFrame/array)."""
        names, cols, is_frame = self._columns(X)
        if not cols:
            raise ValueError("X must contain at least one column, got 0 columns.")
        if len(next(iter(cols.values()))) == 0:
            raise ValueError("X must contain at least one row, got 0 rows.")
        numeric, categorical = self.numeric, self.categorical
        for role, chosen in (("numeric", numeric), ("categorical", categorical)):
            if isinstance(chosen, str) or not (chosen is None or isinstance(chosen, Iterable)):
                raise ValueError(f"{role} must be a list of column names or indices, got "
                                 f"{chosen!r} (write [{chosen!r}] for one column).")
        if numeric is None and categorical is None:
            if is_frame:
                numeric = [c for c in names if np.asarray(cols[c]).dtype.kind in "biuf"
                           and np.asarray(cols[c]).dtype.kind != "b"]
                categorical = [c for c in names if c not in numeric]
            else:
                numeric, categorical = names, []
        elif numeric is None:
            numeric = [c for c in names if c not in list(categorical)]
        elif categorical is None:
            categorical = [c for c in names if c not in list(numeric)]
        numeric, categorical = list(numeric), list(categorical)
        for role, chosen in (("numeric", numeric), ("categorical", categorical)):
            unknown = [c for c in chosen if c not in cols]
            if unknown:
                raise ValueError(f"{role} names columns {unknown} that X does not have "
                                 f"(columns: {names}).")
            repeated = sorted({c for c in chosen if chosen.count(c) > 1}, key=str)
            if repeated:
                raise ValueError(f"{role} names the columns {repeated} more than once.")
        both = set(numeric) & set(categorical)
        if both:
            raise ValueError(f"columns {sorted(both, key=str)} are both numeric and categorical.")
        self.numeric_columns_, self.categorical_columns_ = numeric, categorical
        self.n_features_in_ = len(names)
        if is_frame:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        means, scales, ind = [], [], []
        for c in numeric:
            v = self._as_float(c, cols[c])
            ok = ~np.isnan(v)
            mean = float(v[ok].mean()) if ok.any() else 0.0
            std = float(v[ok].std()) if ok.any() else 0.0
            means.append(mean)
            scales.append(std if std > 0 else 1.0)
            if self.indicators == "all" or (self.indicators == "missing-only" and not ok.all()):
                ind.append(c)
        self.mean_ = np.asarray(means, dtype=np.float64)
        self.scale_ = np.asarray(scales, dtype=np.float64)
        self.indicator_columns_ = ind
        self.categories_ = []
        for c in categorical:
            v = cols[c]
            seen = v[~_is_missing(v)]
            self.categories_.append(np.asarray(sorted(set(seen.tolist()), key=str),
                                               dtype=object))
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise ValueError("This TabularPreprocessor is not fitted yet; call fit(X) first.")

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the output columns, in order (object array)."""
        self._check_fitted()
        names = [str(c) for c in self.numeric_columns_]
        names += [f"{c}__missing" for c in self.indicator_columns_]
        for c, cats in zip(self.categorical_columns_, self.categories_, strict=True):
            names += [f"{c}={k}" for k in cats]
            if self.indicators != "none":
                names.append(f"{c}=__missing__")
        return np.asarray(names, dtype=object)

    def transform(self, X: Any) -> np.ndarray:
        """Apply the fitted preprocessing: ``(n, n_columns)`` → float32 ``(n, n_features_out_)``."""
        self._check_fitted()
        names, cols, is_frame = self._columns(X)
        needed = self.numeric_columns_ + self.categorical_columns_
        missing_cols = [c for c in needed if c not in cols]
        if missing_cols:
            raise ValueError(f"X lacks the fitted columns {missing_cols} (has {names}).")
        if not is_frame and len(names) != self.n_features_in_:
            raise ValueError(f"X has {len(names)} columns, but the preprocessor was fitted on "
                             f"{self.n_features_in_}.")
        n = len(next(iter(cols.values()))) if cols else 0
        blocks = []
        miss_num = {}
        for i, c in enumerate(self.numeric_columns_):
            v = self._as_float(c, cols[c])
            miss_num[c] = np.isnan(v)
            z = (v - self.mean_[i]) / self.scale_[i]
            blocks.append(np.where(miss_num[c], 0.0, z)[:, None])
        for c in self.indicator_columns_:
            blocks.append(miss_num[c].astype(np.float64)[:, None])
        for c, cats in zip(self.categorical_columns_, self.categories_, strict=True):
            v = cols[c]
            miss = _is_missing(v)
            values = np.asarray(v, dtype=object)
            onehot = np.zeros((n, len(cats)), dtype=np.float64)
            for j, k in enumerate(cats):
                onehot[:, j] = (~miss) & np.asarray([val == k for val in values], dtype=bool)
            blocks.append(onehot)
            if self.indicators != "none":
                blocks.append(miss.astype(np.float64)[:, None])
        if not blocks:
            return np.zeros((n, 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X, y).transform(X)

    def __repr__(self) -> str:
        return (f"TabularPreprocessor(numeric={self.numeric!r}, categorical={self.categorical!r}, "
                f"indicators={self.indicators!r})")

