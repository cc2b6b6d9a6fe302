"""Regenerate ``datasets/av_digits_audio.npz``: spoken digits synthesised with espeak-ng.

Learners never need this script (the result is shipped in ``datasets/``); it is kept so that
everyone can see, and repeat, exactly how the audio was made.

Requirements (Debian / Ubuntu)::

    sudo apt-get install espeak-ng
    python scripts/make_av_digits_audio.py            # writes datasets/av_digits_audio.npz
    python scripts/make_av_digits_audio.py --check    # regenerate into a temp file and compare

What it does, for every digit word ("zero" ... "nine"), every speaker (an espeak-ng language
voice plus a voice variant, e.g. ``en-gb-scotland+m5``) and every speed / pitch pair:

1. ``espeak-ng -v VOICE -s SPEED -p PITCH -w out.wav WORD`` (22,050 Hz, 16-bit mono);
2. resample to 8,000 Hz with a polyphase filter (``scipy.signal.resample_poly``, 160/441);
3. trim leading and trailing silence (frames of 10 ms whose RMS is below 2 % of the clip's
   loudest frame), keep a 10 ms margin;
4. normalise the peak to 0.9 of full scale and store as int16, right-padded with zeros to
   ``clip_len`` samples (the true length is in ``lengths``).

The file also records the generation parameters (voices, speeds, pitches, espeak-ng version), and
the script rewrites the clip's line in ``datasets/SHA256SUMS``. Background noise is NOT baked in:
:func:`mmlib.data.load_av_digits` adds it at load time at the SNR you ask for.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "datasets" / "av_digits_audio.npz"
SUMS = REPO / "datasets" / "SHA256SUMS"

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# 12 speakers: 6 English accents x voice variants (m = male-like, f = female-like formants).
SPEAKERS = (
    "en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f3", "en-gb-scotland+m5", "en-gb-scotland+f1",
    "en-029+m2", "en-029+f4", "en-gb-x-rp+m7", "en-us-nyc+f5", "en-gb-x-gbclan+m4",
    "en-gb-x-gbcwmd+m6",
)
SPEEDS = (145, 185)  # words per minute
PITCHES = (30, 70)  # espeak-ng pitch, 0-99 (50 = default)
SOURCE_RATE = 22050
SAMPLE_RATE = 8000
CLIP_LEN = 6400  # 0.8 s at 8 kHz; every trimmed word is shorter
FRAME = SAMPLE_RATE // 100  # 10 ms
SILENCE_REL = 0.02


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
    return out.stdout.strip().split("  Data at")[0]


def synthesise(word: str, voice: str, speed: int, pitch: int, tmp: Path) -> np.ndarray:
    """One espeak-ng utterance as float64 at SAMPLE_RATE, trimmed, peak 0.9."""
    wav = tmp / "w.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav),
                    word], check=True, capture_output=True)
    rate, x = wavfile.read(wav)
    if rate != SOURCE_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {SOURCE_RATE} Hz")
    x = x.astype(np.float64) / 32768.0
    x = resample_poly(x, 160, 441)  # 22050 * 160 / 441 = 8000
    n_frames = len(x) // FRAME
    rms = np.sqrt((x[: n_frames * FRAME].reshape(n_frames, FRAME) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > SILENCE_REL * rms.max())
    start = max(0, (loud[0] - 1) * FRAME)
    stop = min(len(x), (loud[-1] + 2) * FRAME)
    x = x[start:stop]
    return 0.9 * x / np.abs(x).max()


def build() -> dict[str, np.ndarray]:
    rows = [(d, s, sp, p) for d in range(10) for s in SPEAKERS for sp in SPEEDS for p in PITCHES]
    audio = np.zeros((len(rows), CLIP_LEN), dtype=np.int16)
    lengths = np.zeros(len(rows), dtype=np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (digit, voice, speed, pitch) in enumerate(rows):
            x = synthesise(WORDS[digit], voice, speed, pitch, Path(tmp))
            if len(x) > CLIP_LEN:
                raise RuntimeError(f"{WORDS[digit]!r} by {voice} at {speed} wpm is {len(x)} "
                                   f"samples, longer than CLIP_LEN={CLIP_LEN}")
            audio[i, : len(x)] = np.round(x * 32767).astype(np.int16)
            lengths[i] = len(x)
    return {
        "audio": audio,
        "lengths": lengths,
        "digit": np.array([r[0] for r in rows], dtype=np.int8),
        "speaker": np.array([SPEAKERS.index(r[1]) for r in rows], dtype=np.int8),
        "speed_wpm": np.array([r[2] for r in rows], dtype=np.int16),
        "pitch": np.array([r[3] for r in rows], dtype=np.int16),
        "speaker_names": np.array(SPEAKERS),
        "words": np.array(WORDS),
        "sample_rate": np.array(SAMPLE_RATE, dtype=np.int32),
        "source_rate": np.array(SOURCE_RATE, dtype=np.int32),
        "generator": np.array(f"{espeak_version()}; scripts/make_av_digits_audio.py; "
                              f"resample_poly 160/441; trim {SILENCE_REL} rel. RMS; peak 0.9"),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def update_sums(path: Path) -> None:
    lines = SUMS.read_text().splitlines() if SUMS.exists() else []
    lines = [ln for ln in lines if not ln.endswith(f"  {path.name}")]
    lines.append(f"{sha256(path)}  {path.name}")
    SUMS.write_text("\n".join(sorted(lines, key=lambda ln: ln.split("  ")[1])) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary file and compare with the shipped one")
    args = parser.parse_args(argv)
    arrays = build()
    if args.check:
        with np.load(OUT, allow_pickle=False) as shipped:
            same = all(np.array_equal(shipped[k], v) for k, v in arrays.items()
                       if k != "generator")
        print("identical audio" if same else "DIFFERENT audio (another espeak-ng version?)")
        return 0 if same else 1
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    update_sums(OUT)
    n = len(arrays["audio"])
    print(f"wrote {OUT.relative_to(REPO)}: {n} clips, {OUT.stat().st_size / 1e6:.2f} MB, "
          f"longest word {arrays['lengths'].max() / SAMPLE_RATE:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
