"""mmlib's environment set-up: quiet TensorFlow, seeds, determinism, device summary."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import mmlib
from mmlib import env


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose environment has none of TensorFlow's settings
    (whatever the person running the tests exported), plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in env_module_keys()}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180, check=False, env=clean)


def env_module_keys() -> set[str]:
    return set(env.TENSORFLOW_ENVIRONMENT)


def test_import_mmlib_does_not_import_tensorflow():
    out = _python("import sys, mmlib; print('tensorflow' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_importing_mmlib_modules_changes_no_process_setting():
    """A practitioner's script that imports mmlib.fusion keeps TensorFlow as they configured it."""
    code = ("import os, sys, mmlib, mmlib.fusion, mmlib.data\n"
            "print([k for k in %r if k in os.environ])\n"
            "print([type(f).__name__ for f in sys.meta_path if 'Quiet' in type(f).__name__])")
    out = _python(code % sorted(env_module_keys()))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "[]"]


def test_tensorflow_after_setup_prints_no_log_lines():
    """The C++ lines TensorFlow writes to fd 2 while loading must not reach a notebook."""
    code = ("import mmlib; mmlib.setup_notebook(seed=0, quiet=True); import tensorflow as tf;"
            "tf.config.list_physical_devices('GPU'); print(float(tf.reduce_sum(tf.ones(3))))")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"
    assert out.stderr.strip() == "", out.stderr


def test_an_exported_log_level_is_kept():
    code = ("import os, mmlib; mmlib.setup_notebook(seed=0, quiet=True);"
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'])")
    out = _python(code, TF_CPP_MIN_LOG_LEVEL="2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "0"]


def test_setup_after_tensorflow_says_it_is_too_late():
    code = ("import warnings, tensorflow, mmlib\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    mmlib.setup_notebook(seed=0, quiet=True)\n"
            "print([str(x.message)[:60] for x in w if x.category.__name__ == 'LateSetupWarning'])")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert "ran after TensorFlow was imported" in out.stdout


def test_tensorflow_import_errors_are_not_silenced(tmp_path):
    """Silencing fd 2 must not hide a broken TensorFlow: the ImportError still surfaces."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('broken tensorflow for the test')\n")
    out = _python(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import mmlib.env\n"
                  "mmlib.env.quiet_tensorflow()\n"
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


def test_the_contract_names_are_public_on_the_package():
    import mmlib
    from mmlib import MASK_INPUT, _common, mask_columns

    assert MASK_INPUT == _common.MASK_INPUT == "modality_mask"
    assert mask_columns(["image", "audio"]) == ["audio", "image"]
    assert mmlib.derive_seed(0, "encoder", 1) == _common.derive_seed(0, "encoder", 1)
    assert mmlib.KINDS is _common.KINDS
    assert {"MASK_INPUT", "mask_columns", "derive_seed", "KINDS"} <= set(dir(mmlib))
    with pytest.raises(AttributeError, match="no attribute 'MASK'"):
        mmlib.MASK  # noqa: B018
