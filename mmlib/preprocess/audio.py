"""Audio: :class:`LogMelSpectrogram`, a Keras layer computing log-mel spectrograms (``tf.signal``).

It computes the same thing as the NumPy function :func:`mmlib.preprocess.log_mel_spectrogram`,
with the same parameter names and the same mel filters (:func:`mmlib.preprocess.mel_filterbank`);
the tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from mmlib._validate import check_int
from mmlib.preprocess._params import log_mel_params
from mmlib.preprocess.signal import mel_filterbank

__all__ = ["LogMelSpectrogram"]


@keras.saving.register_keras_serializable(package="mmlib")
class LogMelSpectrogram(keras.layers.Layer):
    """Log-mel spectrogram of raw waveforms, built on ``tf.signal``.

    ``frames = frame(x, frame_length, frame_step)``, windowed by a periodic Hann window and
    zero-padded to ``fft_length``; ``S = |rfft(frames)|**power`` (power spectrum for
    ``power=2``); ``M = S @ W_mel`` with ``W_mel = mel_filterbank(n_mels, fft_length,
    sample_rate, fmin, fmax)`` (the filters of ``tf.signal.linear_to_mel_weight_matrix``);
    output ``log(M + log_offset)``. The same computation, with the same parameter names, as the
    NumPy function :func:`mmlib.preprocess.log_mel_spectrogram`.

    The mel scale is a perceptual pitch scale (Stevens, Volkmann & Newman, 1937, "A Scale for
    the Measurement of the Psychological Magnitude Pitch", JASA 8(3)), here in its HTK form
    ``mel(f) = 2595·log10(1 + f/700) = 1127·ln(1 + f/700)`` (O'Shaughnessy, 1987, *Speech
    Communication: Human and Machine*, Addison-Wesley; Young et al., *The HTK Book*).

    **Int8 export:** keep this layer *outside* a model you quantize to int8 (compute log-mels in
    the input pipeline, or export float16): inside an int8 graph the power spectrum, which spans
    many orders of magnitude, gets a single int8 scale, and the quantized model's predictions no
    longer follow the float model's (measured in ``tests/test_pipeline.py``'s set-up: no agreement
    on the 10 samples the float model was surest about, on ``av_digits`` and ``watch``).

    Input ``(batch, n_samples)`` float; output ``(batch, frames, n_mels)`` with
    ``frames = 1 + (n_samples - frame_length) // frame_step``.

    Args:
        sample_rate: samples per second.
        frame_length: window length in samples (e.g. 25 ms).
        frame_step: hop in samples (e.g. 10 ms).
        fft_length: FFT size (default: the next power of two >= ``frame_length``).
        n_mels: number of mel bands.
        fmin, fmax: band limits in Hz (``fmax`` default ``sample_rate / 2``).
        power: exponent of the magnitude (1 = magnitude, 2 = power).
        log_offset: added before the log to avoid ``log(0)``.
    """

    def __init__(self, sample_rate: float = 16000, frame_length: int = 400,
                 frame_step: int = 160, fft_length: int | None = None, n_mels: int = 40,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 2.0,
                 log_offset: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        p = log_mel_params(sample_rate, frame_length, frame_step, fft_length, n_mels, fmin, fmax,
                           power, log_offset)
        self.sample_rate, self.frame_length, self.frame_step = (p.sample_rate, p.frame_length,
                                                                p.frame_step)
        self.fft_length, self.n_mels, self.fmin, self.fmax = p.fft_length, p.n_mels, p.fmin, p.fmax
        self.power, self.log_offset = p.power, p.log_offset
        self.mel_matrix = tf.constant(mel_filterbank(self.n_mels, self.fft_length,
                                                     self.sample_rate, self.fmin, self.fmax))

    def n_frames(self, n_samples: int) -> int:
        """Number of output frames for ``n_samples`` (>= ``frame_length``) input samples."""
        n_samples = check_int("n_samples", n_samples, minimum=self.frame_length)
        return 1 + (n_samples - self.frame_length) // self.frame_step

    def _check(self, shape: Sequence) -> None:
        if len(shape) != 2:
            raise ValueError(f"LogMelSpectrogram expects waveforms of shape (batch, n_samples), "
                             f"got {tuple(shape)}.")
        if shape[1] is not None and shape[1] < self.frame_length:
            raise ValueError(f"LogMelSpectrogram needs at least frame_length={self.frame_length} "
                             f"samples, got {shape[1]}.")

    def build(self, input_shape: Sequence) -> None:
        self._check(tuple(input_shape))

    def call(self, inputs: Any) -> Any:
        """Waveforms ``(batch, n_samples)`` → log-mel ``(batch, frames, n_mels)``."""
        inputs = tf.convert_to_tensor(inputs)
        if not (inputs.dtype.is_floating or inputs.dtype.is_integer):
            raise TypeError(f"LogMelSpectrogram expects numeric waveforms, got dtype "
                            f"{inputs.dtype.name}.")
        x = tf.cast(inputs, "float32")
        self._check(tuple(x.shape))
        stft = tf.signal.stft(x, self.frame_length, self.frame_step, self.fft_length,
                              window_fn=tf.signal.hann_window, pad_end=False)
        spec = tf.abs(stft) ** self.power
        mel = tf.tensordot(spec, self.mel_matrix, axes=1)
        return tf.cast(tf.math.log(mel + self.log_offset), self.compute_dtype)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        n = input_shape[1]
        return (input_shape[0], None if n is None else self.n_frames(n), self.n_mels)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, frame_length=self.frame_length,
                      frame_step=self.frame_step, fft_length=self.fft_length, n_mels=self.n_mels,
                      fmin=self.fmin, fmax=self.fmax, power=self.power,
                      log_offset=self.log_offset)
        return config
