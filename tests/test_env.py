"""mmlib's environment set-up: quiet TensorFlow, seeds, determinism, device summary."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mmlib
from mmlib import env


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180, check=False)


def test_import_mmlib_does_not_import_tensorflow():
    out = _python("import sys, mmlib; print('tensorflow' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_tensorflow_after_mmlib_prints_no_log_lines():
    """The C++ lines TensorFlow writes to fd 2 while loading must not reach a notebook."""
    out = _python("import mmlib, tensorflow as tf; tf.config.list_physical_devices('GPU');"
                  "print(float(tf.reduce_sum(tf.ones(3))))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"
    assert out.stderr.strip() == "", out.stderr


def test_tensorflow_import_errors_are_not_silenced(tmp_path):
    """Silencing fd 2 must not hide a broken TensorFlow: the ImportError still surfaces."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('broken tensorflow for the test')\n")
    out = _python(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import mmlib\n"
                  "try:\n    import tensorflow\nexcept ImportError as e:\n    print('caught', e)")
    assert "caught broken tensorflow for the test" in out.stdout, out.stderr


def test_setup_notebook_prints_one_summary_line(capsys):
    info = mmlib.setup_notebook(seed=3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == info.summary()
    assert f"TensorFlow {info.tensorflow}" in lines[0] and "seed 3" in lines[0]
    assert ("CPU only" in lines[0]) == (not info.gpus)
    assert not info.mixed_precision or info.gpus


def test_mixed_precision_is_ignored_without_gpu():
    import keras

    info = mmlib.setup_notebook(seed=0, mixed_precision=True, quiet=True)
    expected = "mixed_float16" if info.gpus else "float32"
    assert keras.mixed_precision.global_policy().name == expected


def test_same_seed_same_numbers_different_seed_different():
    import keras

    def draw(seed):
        env.set_seed(seed)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return np.concatenate([np.random.rand(3),  # noqa: NPY002
                               np.asarray(layer.kernel).ravel(),
                               np.asarray(keras.random.normal((5,)))])

    np.testing.assert_array_equal(draw(5), draw(5))
    assert not np.array_equal(draw(5), draw(6))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_seed_is_named(bad):
    with pytest.raises((ValueError, TypeError), match="seed must be an integer"):
        mmlib.setup_notebook(seed=bad, quiet=True)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = mmlib.nope
