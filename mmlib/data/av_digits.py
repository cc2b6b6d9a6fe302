"""``av_digits``: real handwritten digits paired by label with spoken digits (the running fusion
example).

Steps of :func:`load_av_digits`: pair each sample with a digit image (:func:`_pair_images`) →
corrupt the image (:func:`_images`: upsample, shift, noise, occlusion) → a clip of the same
spoken digit at a random onset in pink noise (:func:`_audio`) → optional log-mel features →
the container. The data card is in ``datasets/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_choice, check_float, check_int
from mmlib.data._build import check_common, colored_noise, finish
from mmlib.data.container import MultimodalDataset
from mmlib.data.shipped import load_shipped
from mmlib.preprocess.signal import log_mel_spectrogram, resize_images

__all__ = ["AV_DIGITS_AUDIO", "load_av_digits"]

AV_DIGITS_AUDIO = "av_digits_audio.npz"
"""The shipped espeak-ng clips (made by ``scripts/make_av_digits_audio.py``)."""

LOG_MEL_FRAME, LOG_MEL_STEP, LOG_MEL_BANDS = 256, 80, 32
"""Frame length and step (samples) and mel bands of ``audio_features="log_mel"``; recorded in
``info["log_mel"]``, with the frames per second in ``info["frame_rate"]``."""

_AUDIO_ARRAYS = ("audio", "lengths", "digit", "speaker", "speaker_names", "sample_rate", "words")
"""Arrays of :data:`AV_DIGITS_AUDIO` the loader reads."""


def load_av_digits(n_samples: int = 1797, seed: int = 0, *, image_size: int = 28,
                   image_noise: float = 0.35, occlusion: float = 0.55, max_shift: int = 0,
                   snr_db: float = -8.0,
                   speakers: Sequence[str] | None = None, audio_features: str = "waveform",
                   missing_rate: float = 0.0) -> MultimodalDataset:
    """Handwritten digit images paired by label with spoken digits: the course's fusion example.

    Images are the 1,797 real 8x8 digits of scikit-learn's ``load_digits`` (UCI optdigits, CC BY
    4.0), bilinearly upsampled to ``image_size``, with Gaussian pixel noise and a grey square
    hiding a random part of the digit. Each image is paired with a random clip *of the same
    digit* from 480 espeak-ng recordings shipped in ``datasets/av_digits_audio.npz`` (10 words x
    12 speakers x 2 speeds x 2 pitches, 8 kHz), placed at a random time in a 0.8 s window, with
    pink background noise at ``snr_db``, the mix scaled to a peak of 0.95. The noise in the two
    modalities is independent, so they are complementary: fusion beats both (see
    ``datasets/README.md``). Like AV-MNIST
    (Vielzeuf et al., 2018, "CentralNet: a Multilayer Approach for Multimodal Fusion", ECCV
    Workshops), but real images and offline synthetic speech.

    Args:
        n_samples: number of pairs. Up to 1,797 every image is used at most once; beyond, images
            repeat (with new noise, occlusion and clip).
        seed: seed for the pairing and all noise.
        image_size: side of the square image (8 = the original resolution).
        image_noise: standard deviation of the Gaussian pixel noise (pixels are in [0, 1],
            clipped after the noise).
        occlusion: side of a grey square (value 0.5) hiding part of the image, as a fraction
            of the image side (0 = none).
        max_shift: largest random translation in pixels, up, down, left or right (0 = none).
        snr_db: signal-to-noise ratio of the audio in dB (speech power over noise power).
        speakers: draw clips only from these speakers (names in ``info["speaker_names"]``,
            e.g. ``"en-gb-scotland+m5"``); default all 12.
        audio_features: ``"waveform"`` (``(n, 6400)`` float32 in [-1, 1]) or ``"log_mel"``
            (``(n, 77, 32, 1)`` from :func:`mmlib.preprocess.log_mel_spectrogram` with
            ``frame_length=256``, ``frame_step=80``, ``n_mels=32``).
        missing_rate: probability that each modality is missing in a sample (see
            :meth:`MultimodalDataset.drop_modalities`).

    Returns:
        :class:`MultimodalDataset` with modalities ``image`` ``(n, S, S, 1)`` float32 and
        ``audio``; task ``digit`` (int32, 0-9); metadata ``image_index`` (row of
        ``load_digits``), ``clip`` (row of the shipped file), ``speaker`` (int id), ``onset``
        (audio sample where the word starts).
    """
    check_common(n_samples, seed, missing_rate)
    image_size = check_int("image_size", image_size, minimum=8, maximum=64)
    image_noise = check_float("image_noise", image_noise, minimum=0.0)
    occlusion = check_float("occlusion", occlusion, minimum=0.0, maximum=1.0)
    max_shift = check_int("max_shift", max_shift, minimum=0, maximum=image_size // 4)
    snr_db = check_float("snr_db", snr_db, minimum=-30.0, maximum=60.0)
    check_choice("audio_features", audio_features, ("waveform", "log_mel"))
    pool = load_shipped(AV_DIGITS_AUDIO, _AUDIO_ARRAYS)
    speaker_names = [str(s) for s in pool["speaker_names"]]
    allowed = _allowed_speakers(speakers, speaker_names)
    # stream order is part of the data: append new streams at the end
    r_pair, r_img, r_occ, r_clip, r_audio = rng_streams(seed, 5)

    image_index, digit = _pair_images(r_pair, n_samples)
    img = _images(image_index, image_size, image_noise, occlusion, max_shift, r_img, r_occ)
    audio, clip, onset = _audio(pool, digit, allowed, snr_db, r_clip, r_audio)
    sample_rate = int(pool["sample_rate"])
    if audio_features == "log_mel":
        audio = log_mel_spectrogram(audio, sample_rate, frame_length=LOG_MEL_FRAME,
                                    frame_step=LOG_MEL_STEP, n_mels=LOG_MEL_BANDS)[..., None]

    knobs = {"n_samples": n_samples, "seed": seed, "image_size": image_size,
             "image_noise": image_noise, "occlusion": occlusion, "max_shift": max_shift,
             "snr_db": snr_db, "speakers": None if speakers is None else list(speakers),
             "audio_features": audio_features, "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "av_digits", {"image": img, "audio": audio}, {"digit": digit.astype(np.int32)},
        metadata={"image_index": image_index.astype(np.int32), "clip": clip.astype(np.int32),
                  "speaker": pool["speaker"][clip].astype(np.int32),
                  "onset": onset.astype(np.int32)},
        info=_info(pool, speaker_names, audio_features, knobs))
    return finish(ds, missing_rate, seed)


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits of scikit-learn's ``load_digits``: images ``(n, 8, 8)`` in [0, 1] and
    labels ``(n,)`` (read-only, cached)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)
    target = d.target.astype(np.int32)
    images.setflags(write=False)
    target.setflags(write=False)
    return images, target


def _allowed_speakers(speakers: Sequence[str] | None, speaker_names: list[str]) -> np.ndarray:
    """Ids of the speakers whose clips may be drawn (all by default)."""
    if speakers is None:
        return np.arange(len(speaker_names))
    if isinstance(speakers, str) or not len(speakers):
        raise ValueError(f"speakers must be a non-empty list of speaker names, got "
                         f"{speakers!r}; allowed: {speaker_names}.")
    return np.array([speaker_names.index(check_choice("speakers", s, speaker_names))
                     for s in speakers])


def _pair_images(gen: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``load_digits`` for ``n`` samples (each row once per pass) and their digits."""
    images, target = _sklearn_digits()
    n_img = len(images)
    reps = -(-n // n_img)
    image_index = np.concatenate([gen.permutation(n_img) for _ in range(reps)])[:n]
    return image_index, target[image_index]


def _images(image_index: np.ndarray, size: int, noise: float, occlusion: float, max_shift: int,
            r_img: np.random.Generator, r_occ: np.random.Generator) -> np.ndarray:
    """Digit images ``(n, S, S, 1)``: upsampled, (shifted,) noisy and partly occluded."""
    img = _sklearn_digits()[0][image_index]
    if size != 8:
        img = resize_images(img, size)
    if max_shift > 0:  # random translation (zero padding): a nuisance a CNN can ignore
        img = _shift(img, max_shift, r_occ)
    img = img + r_img.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    np.clip(img, 0.0, 1.0, out=img)
    side = int(round(occlusion * size))
    if side > 0:  # a grey square hides part of the digit
        img = _occlude(img, side, r_occ)
    return img[..., None]


def _shift(img: np.ndarray, pad: int, gen: np.random.Generator) -> np.ndarray:
    """Translate each image ``(n, S, S)`` by up to ``pad`` pixels per axis (zero padding)."""
    n, size = img.shape[0], img.shape[1]
    padded = np.zeros((n, size + 2 * pad, size + 2 * pad), dtype=np.float32)
    padded[:, pad:-pad, pad:-pad] = img
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))
    dy, dx = gen.integers(0, 2 * pad + 1, size=(2, n))
    return windows[np.arange(n), dy, dx]


def _occlude(img: np.ndarray, side: int, gen: np.random.Generator) -> np.ndarray:
    """Paint a grey (0.5) ``side`` x ``side`` square at a random place of each image."""
    n, size = img.shape[0], img.shape[1]
    top = gen.integers(0, size - side + 1, size=(n, 1, 1))
    left = gen.integers(0, size - side + 1, size=(n, 1, 1))
    rows = np.arange(size)[None, :, None]
    cols = np.arange(size)[None, None, :]
    block = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    return np.where(block, np.float32(0.5), img)


def _audio(pool: dict[str, np.ndarray], digit: np.ndarray, allowed: np.ndarray, snr_db: float,
           r_clip: np.random.Generator, r_audio: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Waveforms ``(n, win)``: a clip of each sample's digit from an allowed speaker at a random
    onset, a random gain, pink noise at ``snr_db``, the mix scaled to a peak of 0.95.

    Returns ``(audio, clip, onset)``: float32 waveforms, rows of the shipped file, onsets.
    """
    n = len(digit)
    clip_digit, clip_speaker = pool["digit"], pool["speaker"]
    clip = np.empty(n, dtype=np.int64)
    for d in range(10):
        cands = np.flatnonzero((clip_digit == d) & np.isin(clip_speaker, allowed))
        rows_d = np.flatnonzero(digit == d)
        clip[rows_d] = cands[r_clip.integers(len(cands), size=len(rows_d))]
    length = pool["lengths"][clip].astype(np.int64)
    win = pool["audio"].shape[1]
    onset = (r_clip.random(n) * (win - length + 1)).astype(np.int64)
    gain = (0.4 + 0.6 * r_audio.random(n)) / 32768.0
    # shift each word to its onset: window (win - onset) of [zeros(win), clip] is the shifted clip
    padded = np.concatenate([np.zeros_like(pool["audio"]), pool["audio"]], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, win, axis=1)
    audio = windows[clip, win - onset].astype(np.float32)
    audio *= gain.astype(np.float32)[:, None]
    power = np.einsum("ij,ij->i", audio, audio, dtype=np.float64) / length
    noise_rms = np.sqrt(power) * 10 ** (-snr_db / 20)
    audio += colored_noise(r_audio, n, win, exponent=1.0, scale=noise_rms)
    audio *= (0.95 / np.abs(audio).max(axis=1))[:, None]  # like a recorder's gain: peak 0.95
    return audio, clip, onset


def _info(pool: dict[str, np.ndarray], speaker_names: list[str], audio_features: str,
          knobs: dict[str, Any]) -> dict[str, Any]:
    return {
        "kinds": {"image": "image",
                  "audio": "audio" if audio_features == "waveform" else "spectrogram"},
        "class_names": {"digit": [str(d) for d in range(10)]},
        "sample_rate": int(pool["sample_rate"]),
        **({"frame_rate": int(pool["sample_rate"]) / LOG_MEL_STEP,
            "log_mel": {"frame_length": LOG_MEL_FRAME, "frame_step": LOG_MEL_STEP,
                        "n_mels": LOG_MEL_BANDS}} if audio_features == "log_mel" else {}),
        "speaker_names": speaker_names,
        "words": [str(w) for w in pool["words"]],
        "row_label_metadata": {"speaker": speaker_names},
        "knobs": knobs,
        "source": "images: scikit-learn load_digits (UCI optdigits, CC BY 4.0); audio: espeak-ng "
                  "(datasets/av_digits_audio.npz)",
    }
