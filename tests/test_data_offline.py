"""Offline safety of mmlib.data: checksums, errors that name the cause of a damaged or missing file,
no pickles, no network, no TensorFlow at import, memory at the default sizes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mmlib import data
from mmlib.env import REPO_ROOT

SHIPPED = REPO_ROOT / "datasets"
AUDIO = "av_digits_audio.npz"


@pytest.fixture
def datasets_copy(tmp_path, monkeypatch):
    """A private copy of datasets/, used through MMLIB_DATASETS."""
    folder = tmp_path / "datasets"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("MMLIB_DATASETS", str(folder))
    return folder


def test_manifest_lists_every_shipped_file_with_its_sha256():
    lines = (SHIPPED / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines if line.strip())
    assert set(listed) == set(data.SHIPPED_FILES)
    for name, digest in listed.items():
        assert hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest() == digest
    assert data.verify_shipped() == {"SHA256SUMS": "ok", AUDIO: "ok"}


def test_no_pickles_anywhere_in_datasets():
    files = sorted(p.name for p in SHIPPED.iterdir())
    assert files == sorted(["README.md", "SHA256SUMS", *data.SHIPPED_FILES])
    size = sum((SHIPPED / f).stat().st_size for f in data.SHIPPED_FILES)
    assert size <= 10 * 1024 ** 2  # <= 10 MB shipped
    for name in data.SHIPPED_FILES:
        with zipfile.ZipFile(SHIPPED / name) as z:  # an .npz holds only .npy members
            assert all(m.endswith(".npy") for m in z.namelist())
        with np.load(SHIPPED / name, allow_pickle=False) as z:
            for key in z.files:
                assert z[key].dtype != object, key  # would have raised without pickles anyway


def test_generation_parameters_are_recorded_in_the_audio_file():
    with np.load(SHIPPED / AUDIO, allow_pickle=False) as z:
        assert z["audio"].dtype == np.int16 and z["audio"].shape[0] == len(z["digit"]) == 480
        assert int(z["sample_rate"]) == 8000
        combos = {(int(d), int(s), int(v), int(p)) for d, s, v, p in
                  zip(z["digit"], z["speaker"], z["speed_wpm"], z["pitch"], strict=True)}
        assert len(combos) == 480  # 10 digits x 12 speakers x 2 speeds x 2 pitches, no repeats
        assert "eSpeak NG" in str(z["generator"])
        assert list(z["words"]) == ["zero", "one", "two", "three", "four", "five", "six",
                                    "seven", "eight", "nine"]
        assert np.all(z["lengths"] <= z["audio"].shape[1])
        past_end = np.arange(z["audio"].shape[1])[None, :] >= z["lengths"][:, None]
        assert np.all(z["audio"][past_end] == 0)  # zero padding after each word
        assert np.all(np.abs(z["audio"][np.arange(480), z["lengths"] - 1]) < 32767)


def test_corrupted_file_gives_a_clear_error(datasets_copy):
    path = datasets_copy / AUDIO
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte in the middle
    path.write_bytes(bytes(raw))
    assert data.verify_shipped()[AUDIO] == "corrupt"
    with pytest.raises(data.DatasetFileError, match=r"corrupt or truncated.*git checkout -- "
                                                    r"datasets/"):
        data.load_av_digits(n_samples=10)


def test_truncated_file_gives_a_clear_error(datasets_copy):
    path = datasets_copy / AUDIO
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    assert data.verify_shipped()[AUDIO] == "corrupt"
    with pytest.raises(data.DatasetFileError, match=r"corrupt or truncated.*make_av_digits_audio"):
        data.load("av_digits", n_samples=10)


def test_missing_file_gives_a_clear_error(datasets_copy):
    (datasets_copy / AUDIO).unlink()
    assert data.verify_shipped()[AUDIO] == "missing"
    with pytest.raises(data.DatasetFileError, match=r"av_digits_audio.npz \(folder set by "
                                                    r"\$MMLIB_DATASETS\) is missing.*Restore"):
        data.load_av_digits(n_samples=10)


def test_missing_manifest_is_named_and_the_intact_file_not_called_corrupt(datasets_copy):
    (datasets_copy / "SHA256SUMS").unlink()
    status = data.verify_shipped()
    assert status == {"SHA256SUMS": "missing", AUDIO: "unverified"}  # present, intact
    with pytest.raises(data.DatasetFileError, match=r"checksum manifest .*SHA256SUMS .*is "
                                                    r"missing, so the shipped files cannot be "
                                                    r"verified"):
        data.load_av_digits(n_samples=10)


def test_mmlib_datasets_pointing_nowhere_names_the_variable_and_the_path(tmp_path,
                                                                         monkeypatch):
    nowhere = tmp_path / "no" / "such" / "folder"
    monkeypatch.setenv("MMLIB_DATASETS", str(nowhere))
    with pytest.raises(data.DatasetFileError) as err:
        data.load_av_digits(n_samples=10)
    message = str(err.value)
    assert "MMLIB_DATASETS" in message and str(nowhere) in message
    assert "not an existing folder" in message


def test_an_npz_lacking_an_array_names_the_array(datasets_copy):
    path = datasets_copy / AUDIO
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "lengths"}
    np.savez(path, **arrays)  # a well-formed file with a valid checksum, but no "lengths"
    manifest = datasets_copy / "SHA256SUMS"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest.write_text(f"{digest}  {AUDIO}\n")
    with pytest.raises(data.DatasetFileError, match=r"lacks the array 'lengths' \(it holds "
                                                    r"\['audio', 'digit'"):
        data.load_av_digits(n_samples=10)


def test_unknown_load_arguments_list_the_valid_ones():
    with pytest.raises(TypeError, match=r"load\('drive'\) got unknown keyword argument\(s\) "
                                        r"\['n_sample'\]; load_drive takes \['n_samples', 'seed', "
                                        r"'conditions'"):
        data.load("drive", n_sample=10)
    with pytest.raises(TypeError, match=r"\['snr'\]; load_av_digits takes .*'snr_db'"):
        data.load("av_digits", n_samples=10, snr=3.0)


def test_importing_mmlib_data_does_not_import_tensorflow():
    script = textwrap.dedent("""
        import sys
        import mmlib.data
        from mmlib import data
        data.load("av_digits", n_samples=8, audio_features="log_mel")
        data.load("clinic", n_samples=8)
        print(sorted(m for m in ("tensorflow", "keras", "matplotlib") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "MMLIB_DATASETS": str(SHIPPED)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_file_damaged_after_a_good_load_is_caught(datasets_copy):
    first = data.load_av_digits(n_samples=10, seed=0)  # verified, then cached
    path = datasets_copy / AUDIO
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0x01
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(data.DatasetFileError, match="corrupt"):
        data.load_av_digits(n_samples=10, seed=0)
    shutil.copy(SHIPPED / AUDIO, path)  # restored: loads again, same bytes as before
    again = data.load_av_digits(n_samples=10, seed=0)
    np.testing.assert_array_equal(first.modalities["audio"], again.modalities["audio"])


_NO_NETWORK = textwrap.dedent("""
    import socket, sys

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    try:  # the guard works
        socket.create_connection(("example.com", 80), timeout=1)
    except OSError:
        pass
    assert len(attempts) == 1
    attempts.clear()

    import hashlib
    import mmlib
    from mmlib import data
    for name in data.DATASETS:
        ds = data.load(name, n_samples=16, seed=0)
        h = hashlib.sha256()
        for group in (ds.modalities, ds.labels, ds.masks, ds.metadata):
            for key in sorted(group):
                h.update(group[key].tobytes())
        print(name, h.hexdigest())
    data.load_av_digits(n_samples=16, audio_features="log_mel")
    assert all(v == "ok" for v in data.verify_shipped().values())
    print("attempts", len(attempts))
""")


def test_import_and_every_loader_open_no_network_connection():
    env = {**os.environ, "MMLIB_DATASETS": str(SHIPPED), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", _NO_NETWORK], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "attempts 0"
    # ... and another process (other hash seed, no network) made the same bytes as this one
    for line, name in zip(lines[:-1], data.DATASETS, strict=True):
        ds = data.load(name, n_samples=16, seed=0)
        h = hashlib.sha256()
        for group in (ds.modalities, ds.labels, ds.masks, ds.metadata):
            for key in sorted(group):
                h.update(group[key].tobytes())
        assert line == f"{name} {h.hexdigest()}"


def test_default_sizes_stay_under_500_mb():
    peaks = {}
    for name in data.DATASETS:
        data.load(name, n_samples=4)  # imports and caches outside the measurement
        tracemalloc.start()
        ds = data.load(name)
        peaks[name] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        arrays = sum(a.nbytes for a in ds.modalities.values()) / 1e6
        assert peaks[name] >= arrays  # the measurement sees the arrays themselves
        del ds
    print(json.dumps({k: round(v) for k, v in peaks.items()}))
    assert max(peaks.values()) < 500, peaks


def test_regeneration_script_documents_its_recipe():
    script = Path(REPO_ROOT / "scripts" / "make_av_digits_audio.py").read_text()
    readme = (SHIPPED / "README.md").read_text()
    assert "espeak-ng" in script and "apt-get install espeak-ng" in readme
    assert "python scripts/make_av_digits_audio.py" in readme
