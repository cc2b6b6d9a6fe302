"""``watch``: one-second surveillance clips (grayscale video + audio) with normal activity or an
event (the security case study).

Steps of :func:`load_watch`: the events (:func:`_events`: class, onset, audio-video offset) →
the video (:func:`_video`: the room, the people, the window's light, noise) → the audio
(:func:`_audio`: room tone, hum and sounds from synthetic banks mixed in at their times) → the
container. The data card is in ``datasets/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_float, check_int
from mmlib.data._build import check_common, colored_noise, finish
from mmlib.data.container import MultimodalDataset

__all__ = ["EVENTS", "load_watch"]

EVENTS: tuple[str, ...] = ("normal", "intrusion", "glass_break", "fight")
"""Classes of the ``watch`` task ``event``."""


def load_watch(n_samples: int = 2000, seed: int = 0, *, n_frames: int = 8, frame_size: int = 24,
               sample_rate: int = 4000, event_probs: Sequence[float] = (0.4, 0.2, 0.2, 0.2),
               max_offset: float = 0.0, strength: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """One-second surveillance clips (grayscale video + audio) with normal activity or an event.

    The security case study. A fixed camera looks at a room (wall, floor, door, window); people
    are dark blobs. Classes and where they show:

    * **normal**: 0-2 people walking slowly; audio: room tone, hum, soft footsteps, sometimes a
      murmur of voices or a door slam (a loud but low-pitched thump).
    * **intrusion**: a person bursts in from the door side and moves fast (clearly visible);
      audio: only faint quick footsteps and, half of the time, a soft creak (weakly audible).
    * **glass_break**: a loud broadband crash with high-pitched ringing and tinkles (clearly
      audible); video: a faint flash of the window, which then stays a little darker (weakly
      visible: the window's light also flickers in normal clips, e.g. passing headlights).
    * **fight**: two people close together, moving erratically; audio: shouts (high-pitched
      harmonic bursts) and thumps (both modalities).

    The event starts at ``metadata["onset"]`` seconds (video time). With ``max_offset > 0`` the
    whole audio track is shifted by ``metadata["av_offset"]`` seconds, uniform in
    ``[-max_offset, max_offset]`` (positive = audio late), for alignment exercises. Stands in
    for XD-Violence (Wu et al., 2020, "Not only Look, but also Listen: Learning Multimodal
    Violence Detection under Weak Supervision", ECCV) and UCF-Crime style anomaly data.

    Args:
        n_samples: number of clips.
        seed: seed of everything random.
        n_frames: video frames per clip (frame rate = ``n_frames`` per second).
        frame_size: frame side in pixels (>= 16).
        sample_rate: audio samples per second (2,000-16,000).
        event_probs: probabilities of normal, intrusion, glass_break, fight (sum to 1).
        max_offset: largest audio-video offset in seconds (0 = aligned).
        strength: multiplier of how visible / audible the events are (1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``video`` ``(n, T, S, S, 1)`` float32 in
        [0, 1] and ``audio`` ``(n, sample_rate)`` float32 waveform; tasks ``event`` (int32) and
        ``anomaly`` (int32, 1 = not normal); metadata ``onset`` (s, NaN for normal),
        ``av_offset`` (s), ``n_people``.
    """
    check_common(n_samples, seed, missing_rate)
    T = check_int("n_frames", n_frames, minimum=4, maximum=64)
    S = check_int("frame_size", frame_size, minimum=16, maximum=96)
    sr = check_int("sample_rate", sample_rate, minimum=2000, maximum=16000)
    try:
        probs = np.asarray(event_probs, dtype=float)
    except (TypeError, ValueError):
        probs = np.zeros(0)
    if probs.shape != (4,) or (probs < 0).any() or abs(probs.sum() - 1) > 1e-6:
        raise ValueError(f"event_probs must be 4 non-negative numbers (for {list(EVENTS)}) that "
                         f"sum to 1, got {event_probs!r}.")
    max_offset = check_float("max_offset", max_offset, minimum=0.0, maximum=0.5)
    strength = check_float("strength", strength, minimum=0.0, maximum=3.0)
    # stream order is part of the data: append new streams at the end
    r_lat, r_vid, r_aud = rng_streams(seed, 3)

    ev = _events(r_lat, n_samples, T, probs, max_offset)
    frames, n_walk = _video(r_vid, ev, T, S, strength)
    audio = _audio(r_aud, ev, n_walk, sr, strength)

    event = ev["event"]
    knobs = {"n_samples": n_samples, "seed": seed, "n_frames": T, "frame_size": S,
             "sample_rate": sr, "event_probs": tuple(float(p) for p in probs),
             "max_offset": max_offset, "strength": strength, "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "watch", {"video": frames[..., None], "audio": audio},
        {"event": event.astype(np.int32), "anomaly": (event > 0).astype(np.int32)},
        metadata={"onset": ev["onset"].astype(np.float32),
                  "av_offset": ev["offset"].astype(np.float32),
                  "n_people": (n_walk + np.where(event == 1, 1, np.where(event == 3, 2, 0))
                               ).astype(np.int8)},
        info={"kinds": {"video": "video", "audio": "audio"},
              "class_names": {"event": list(EVENTS), "anomaly": ["normal", "anomaly"]},
              "sample_rate": sr, "fps": T, "knobs": knobs})
    return finish(ds, missing_rate, seed)


def _events(gen: np.random.Generator, n: int, T: int, probs: np.ndarray,
            max_offset: float) -> dict[str, np.ndarray]:
    """The events ``(n,)``: class ``event``, ``onset`` (s, NaN for normal), ``onset_frame``
    (first frame of the event; ``T`` for normal) and the audio-video ``offset`` (s)."""
    event = gen.choice(4, size=n, p=probs)
    onset = np.where(event > 0, gen.uniform(0.15, 0.6, n), np.nan)
    onset_frame = np.where(event > 0, np.ceil(np.nan_to_num(onset) * T), T).astype(int)
    offset = gen.uniform(-max_offset, max_offset, n) if max_offset > 0 else np.zeros(n)
    return {"event": event, "onset": onset, "onset_frame": onset_frame, "offset": offset}


def _video(gen: np.random.Generator, ev: dict[str, np.ndarray], T: int, S: int,
           strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(n, T, S, S)`` in [0, 1] of a static room with people as dark Gaussian blobs, a
    flickering window and sensor noise; also the number of walkers ``(n,)``."""
    f32, sc = np.float32, S / 24  # geometry is given for 24 x 24 frames
    grid = np.arange(S, dtype=f32) + f32(0.5)
    room, door_left, window = _room(gen, len(ev["event"]), grid, sc)
    dark, n_walk = _people(gen, ev, door_left, grid, T, sc, strength)
    frames = room[:, None] * (1 - dark)
    flicker = _window_light(gen, ev, T, strength)
    frames += flicker.astype(f32)[:, :, None, None] * window.astype(f32)
    frames += gen.standard_normal(frames.shape, dtype=f32) * f32(0.03)
    np.clip(frames, 0, 1, out=frames)
    return frames, n_walk


def _room(gen: np.random.Generator, n: int, grid: np.ndarray, sc: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The empty rooms ``(n, S, S)`` (wall, floor, a door left or right, a window), the door
    side ``(n,)`` (True = left) and the window mask ``(S, S)``."""
    f32 = np.float32
    door_left = gen.random(n) < 0.5
    door_cols = np.where(door_left[:, None], (grid >= 2 * sc) & (grid < 7 * sc),
                         (grid >= 17 * sc) & (grid < 22 * sc))
    door = door_cols[:, None, :] & ((grid >= 4 * sc) & (grid < 14 * sc))[None, :, None]
    window = (((grid >= 3 * sc) & (grid < 8 * sc))[:, None]
              & ((grid >= 9.5 * sc) & (grid < 14.5 * sc))[None, :])
    wall = gen.uniform(0.45, 0.6, n).astype(f32)
    floor = gen.uniform(0.28, 0.38, n).astype(f32)
    room = np.where((grid < 14 * sc)[None, :, None], wall[:, None, None], floor[:, None, None])
    room = np.where(door, f32(0.2), room)
    room = np.where(window[None], gen.uniform(0.7, 0.9, n).astype(f32)[:, None, None],
                    room).astype(f32)
    return room, door_left, window


def _people(gen: np.random.Generator, ev: dict[str, np.ndarray], door_left: np.ndarray,
            grid: np.ndarray, T: int, sc: float, strength: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Darkness ``(n, T, S, S)`` of five person slots — 2 walkers, an intruder (in from the door
    side, fast), 2 fighters (close, erratic after the onset) — and the walkers' count ``(n,)``."""
    f32, event, onset_frame = np.float32, ev["event"], ev["onset_frame"]
    n = len(event)
    ft = np.arange(T, dtype=f32)[None, :]  # frame index
    after = ft >= onset_frame[:, None]  # (n, T): the event is under way
    # per person slot: x, y centres (n, T), darkness (n, T), blob widths sx, sy
    n_walk = np.where(event == 0, gen.integers(0, 3, n), gen.integers(0, 2, n))
    xs, ys, depth, sx, sy = [], [], [], [], []
    for k in range(2):  # walkers
        v = gen.uniform(0.3, 1.0, n) * np.where(gen.random(n) < 0.5, -1, 1)
        xs.append((gen.uniform(3, 21, n)[:, None] + v[:, None] * ft) * sc)
        ys.append(np.repeat(gen.uniform(15, 19, n)[:, None] * sc, T, axis=1))
        depth.append(np.where(n_walk > k, 0.75, 0.0)[:, None] + 0 * ft)
        sx.append(1.3)
        sy.append(3.0)
    steps = np.clip(ft - onset_frame[:, None], 0, None)  # intruder: in from the door side, fast
    v = np.where(door_left, 1, -1) * gen.uniform(1.5, 2.5, n)
    xs.append((np.where(door_left, 4.5, 19.5)[:, None] + v[:, None] * steps) * sc)
    ys.append((14 - 1.2 * np.minimum(steps, 1.0)) * sc)
    depth.append(np.where((event == 1)[:, None] & after, min(0.85, 0.7 * strength), 0.0))
    sx.append(1.6)
    sy.append(2.4)
    centre = gen.uniform(7, 17, n)[:, None]  # fighters: close, erratic after the onset
    for side in (-1, 1):
        jx = gen.normal(0, 1.3, (n, T)) * after * strength
        jy = gen.normal(0, 0.8, (n, T)) * after * strength
        xs.append((centre + side * (2.5 - 0.8 * after) + jx) * sc)
        ys.append((16.5 + jy) * sc)
        depth.append(np.where(event == 3, 0.75, 0.0)[:, None] + 0 * ft)
        sx.append(1.3)
        sy.append(3.0)
    # darkness(t) = sum_p depth_p * gy_p (x) gx_p: one batched matrix product for all people
    gx = np.stack([_blob(x.astype(f32), s_ * sc, grid) for x, s_ in zip(xs, sx, strict=True)],
                  axis=2)  # (n, T, P, S)
    gy = np.stack([_blob(y.astype(f32), s_ * sc, grid) * d[..., None].astype(f32)
                   for y, s_, d in zip(ys, sy, depth, strict=True)], axis=2)
    dark = np.matmul(gy.transpose(0, 1, 3, 2), gx)  # (n, T, S, S)
    return np.clip(dark, 0, 0.9, out=dark), n_walk


def _window_light(gen: np.random.Generator, ev: dict[str, np.ndarray], T: int,
                  strength: float) -> np.ndarray:
    """Brightness changes ``(n, T)`` of the window: it flickers (clouds; in some normal clips a
    car's headlights pass: a confuser); a glass break adds a faint flash at the onset frame and
    leaves the window a little darker (cracked)."""
    event, onset_frame, n = ev["event"], ev["onset_frame"], len(ev["event"])
    ft = np.arange(T, dtype=np.float32)[None, :]  # frame index
    flicker = gen.normal(0, 0.02, (n, T))
    passing = (event == 0) & (gen.random(n) < 0.25)  # a car's headlights pass: a confuser
    flicker += np.where(passing[:, None] & (ft == gen.integers(0, T, n)[:, None]),
                        gen.uniform(0.03, 0.07, n)[:, None], 0.0)
    is_glass = (event == 2)[:, None]
    first = np.minimum(onset_frame, T - 1)[:, None]
    flicker += np.where(is_glass & (ft == first), 0.04 * strength, 0.0)
    flicker -= np.where(is_glass & (ft > first), 0.015 * strength, 0.0)
    return flicker


def _audio(gen: np.random.Generator, ev: dict[str, np.ndarray], n_walk: np.ndarray, sr: int,
           strength: float) -> np.ndarray:
    """Waveforms ``(n, sr)``: room tone (pink noise), 50 Hz hum, and sounds from small synthetic
    banks mixed in at their (audio) times: footsteps, creaks, murmurs, door slams, glass crashes,
    shouts and blows."""
    f32, event, n = np.float32, ev["event"], len(ev["event"])
    L = sr
    t = np.arange(L, dtype=f32) / f32(sr)
    audio = colored_noise(gen, n, L, exponent=1.0, scale=np.full(n, 0.02))
    hum_phase = gen.uniform(0, 2 * np.pi, n).astype(f32)
    audio += f32(0.01) * np.sin(f32(2 * np.pi * 50) * t[None, :] + hum_phase[:, None])
    banks = {k: _sound_bank(gen, k, sr) for k in ("thump", "creak", "murmur", "shout", "crash")}
    offset = ev["offset"]
    a_onset = np.nan_to_num(ev["onset"]) + offset  # audio time of the event

    def at(seconds):
        return np.round(np.asarray(seconds) * sr).astype(np.int64)

    idx = np.flatnonzero(n_walk > 0)  # walkers' soft footsteps, every 0.5 s
    first = gen.uniform(0, 0.5, idx.size) + offset[idx]
    for k in range(2):
        _mix_in(audio, idx, at(first + 0.5 * k), banks["thump"], gen, 0.05)
    idx = np.flatnonzero(event == 1)  # intruder: faint quick steps, sometimes a creak
    for k in range(3):
        _mix_in(audio, idx, at(a_onset[idx] + 0.05 + 0.22 * k), banks["thump"], gen,
                0.04 * strength)
    creak = idx[gen.random(idx.size) < 0.5]
    _mix_in(audio, creak, at(a_onset[creak]), banks["creak"], gen, 0.05 * strength)
    idx = np.flatnonzero((event == 0) & (gen.random(n) < 0.3))  # normal: murmur
    _mix_in(audio, idx, at(gen.uniform(0, 0.6, idx.size)), banks["murmur"], gen, 0.08)
    idx = np.flatnonzero((event == 0) & (gen.random(n) < 0.15))  # normal: a door slam
    _mix_in(audio, idx, at(gen.uniform(0.1, 0.8, idx.size)), banks["thump"], gen, 0.4)
    idx = np.flatnonzero(event == 2)  # glass break
    _mix_in(audio, idx, at(a_onset[idx]), banks["crash"], gen, 0.6 * strength)
    idx = np.flatnonzero(event == 3)  # fight: two shouts and two blows
    for k in range(2):
        _mix_in(audio, idx, at(a_onset[idx] + k * gen.uniform(0.15, 0.35, idx.size)),
                banks["shout"], gen, 0.3 * strength)
        _mix_in(audio, idx, at(a_onset[idx] + gen.uniform(0, 0.4, idx.size)), banks["thump"],
                gen, 0.25 * strength)
    return audio


def _blob(centre: np.ndarray, sigma: float, grid: np.ndarray) -> np.ndarray:
    """1-D Gaussian profiles ``(..., len(grid))`` for centres ``(...)`` of width ``sigma``."""
    d = (grid - centre[..., None]) / np.float32(sigma)
    return np.exp(np.float32(-0.5) * d * d)


def _sound_bank(gen: np.random.Generator, kind: str, sr: int, variants: int = 48) -> np.ndarray:
    """Short synthetic sounds ``(variants, length)``, peak-normalised, float32.

    ``thump`` (footstep / door / blow: decaying low sine), ``creak`` (rising chirp), ``murmur``
    (low voice: harmonic tone 110-180 Hz with vibrato), ``shout`` (220-400 Hz, louder harmonics),
    ``crash`` (breaking glass: broadband burst + high ringing partials + tinkles).
    """
    dur = {"thump": 0.15, "creak": 0.3, "murmur": 0.5, "shout": 0.3, "crash": 0.5}[kind]
    t = np.arange(int(dur * sr)) / sr
    v = variants
    if kind == "thump":
        f = gen.uniform(50, 120, (v, 1))
        x = np.exp(-t / gen.uniform(0.02, 0.04, (v, 1))) * np.sin(2 * np.pi * f * t)
    elif kind == "creak":
        f = gen.uniform(250, 350, (v, 1)) + gen.uniform(600, 1200, (v, 1)) * t
        x = np.sin(np.pi * t / dur) * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sign(
            np.sin(2 * np.pi * 30 * t)))
    elif kind in ("murmur", "shout"):
        lo, hi, n_h = (110, 180, 3) if kind == "murmur" else (220, 400, 5)
        length = gen.uniform(0.5, 1.0, (v, 1)) * dur
        f0 = gen.uniform(lo, hi, (v, 1))
        phase = 2 * np.pi * (f0 * t + gen.uniform(2, 15, (v, 1)) / 6 * np.sin(2 * np.pi * 6 * t))
        env = np.sqrt(np.clip(np.sin(np.pi * np.clip(t / length, 0, 1)), 0, None))
        x = env * sum(np.sin(h * phase) / h ** (1.5 if kind == "murmur" else 0.7)
                      for h in range(1, n_h + 1))
    else:  # crash
        noise = gen.standard_normal((v, t.size))
        x = 1.5 * noise * np.exp(-t / 0.04)
        for _ in range(3):
            f = gen.uniform(0.3, 0.47, (v, 1)) * sr
            x += 0.4 * np.exp(-t / gen.uniform(0.05, 0.15, (v, 1))) * np.sin(2 * np.pi * f * t)
        for _ in range(4):  # tinkles: short clicks of high ringing
            t0 = gen.uniform(0.05, 0.4, (v, 1))
            tt = t - t0
            x += 0.3 * (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.008) * np.sin(
                2 * np.pi * gen.uniform(0.35, 0.48, (v, 1)) * sr * tt)
    x /= np.abs(x).max(axis=1, keepdims=True)
    return x.astype(np.float32)


def _mix_in(audio: np.ndarray, idx: np.ndarray, start: np.ndarray, bank: np.ndarray,
            gen: np.random.Generator, gain: np.ndarray | float) -> None:
    """Add a random sound of ``bank`` to ``audio[idx[j]]`` at sample ``start[j]`` (cut at edges)."""
    variant = gen.integers(len(bank), size=idx.size)
    gain = np.broadcast_to(np.asarray(gain, dtype=np.float32), idx.size) * gen.uniform(
        0.8, 1.2, idx.size).astype(np.float32)
    length, total = bank.shape[1], audio.shape[1]
    for j, i in enumerate(idx.tolist()):  # slices: cheap, and sounds are short
        s0 = int(start[j])
        a, b = max(s0, 0), min(s0 + length, total)
        if a < b:
            audio[i, a:b] += gain[j] * bank[variant[j], a - s0: b - s0]

