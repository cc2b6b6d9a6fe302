"""``watch``: one-second surveillance clips (grayscale video + audio) with normal activity or an
event (the security case study).

Every clip shows one *scene* (:data:`WATCH_SCENES`): nothing special, one of the three events, or
a harmless look-alike that copies one event in one modality only (staff entering with a key looks
like a break-in; a door slammed in the corridor sounds like one). Each scene is a video cue
(what the camera sees) plus an audio cue (what the microphone hears), under a condition
(:data:`WATCH_CONDITIONS`: clear, dark room, loud background noise).

Steps of :func:`load_watch`: the scenes (:func:`_scenes`: class, look-alike, condition, onset,
audio-video offset) → the video (:func:`_video`: the room, its light, the door, the window, the
people, sensor noise) → the audio (:func:`_audio`: room tone or loud noise, hum and sounds from
synthetic banks mixed in at their times) → the container. The data card is in
``datasets/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmlib._common import rng_streams
from mmlib._validate import check_float, check_int
from mmlib.data._build import check_common, colored_noise, finish
from mmlib.data.container import MultimodalDataset

__all__ = ["EVENTS", "WATCH_CONDITIONS", "WATCH_SCENES", "load_watch"]

EVENTS: tuple[str, ...] = ("normal", "intrusion", "glass_break", "fight")
"""Classes of the ``watch`` task ``event``."""

WATCH_SCENES: tuple[str, ...] = (
    "quiet", "intrusion", "glass_break", "fight", "staff_entry", "corridor_slam", "lamp_off",
    "bottle_drop", "moving_furniture", "argument")
"""What happens in a ``watch`` clip (``metadata["scene"]`` indexes this): the quiet scene, the
three events, and six harmless look-alikes (class ``normal``), each copying one event in one
modality: ``staff_entry`` looks like ``intrusion``, ``corridor_slam`` sounds like it;
``lamp_off`` looks like ``glass_break``, ``bottle_drop`` sounds like it; ``moving_furniture``
looks like ``fight``, ``argument`` sounds like it."""

WATCH_CONDITIONS: tuple[str, ...] = ("clear", "dark", "noisy")
"""Recording conditions of ``watch`` (``metadata["condition"]`` indexes this): ``clear``; ``dark``
(room light off: the camera sees light sources, hardly the people); ``noisy`` (building works next
door: loud noise masks most sounds, and the vibrations shake the camera by a pixel)."""

# per scene: event class, video cue, audio cue (indices into _V_CUES and _A_CUES)
_V_CUES = ("none", "entry", "window", "scuffle")
_A_CUES = ("none", "bang", "click", "crash", "shouts", "soft")
_SCENE_TABLE = np.array([  # event, video cue, audio cue
    (0, 0, 0),  # quiet
    (1, 1, 1),  # intrusion: the door is forced (bang) and a person walks in
    (2, 2, 3),  # glass_break: the window pane breaks (crash), the window changes
    (3, 3, 4),  # fight: two people scuffle, shouts and blows
    (0, 1, 2),  # staff_entry: the door is unlocked (click) and a person walks in
    (0, 0, 1),  # corridor_slam: a door slams outside the camera's view
    (0, 2, 0),  # lamp_off: the street lamp outside the window switches off
    (0, 0, 3),  # bottle_drop: a bottle breaks next door
    (0, 3, 5),  # moving_furniture: two people shift a table, quietly
    (0, 0, 4),  # argument: neighbours shout and bang on the table behind the wall
])


def load_watch(n_samples: int = 2000, seed: int = 0, *, n_frames: int = 8, frame_size: int = 24,
               sample_rate: int = 4000,
               event_probs: Sequence[float] = (0.64, 0.12, 0.12, 0.12),
               lookalike_rate: float = 0.8,
               condition_probs: Sequence[float] = (0.7, 0.15, 0.15),
               max_offset: float = 0.0, strength: float = 1.0, missing_rate: float = 0.0
               ) -> MultimodalDataset:
    """One-second surveillance clips (grayscale video + audio) with normal activity or an event.

    The security case study. A fixed camera looks at a room (wall, floor, a door, a window);
    people are dark blobs; 0-2 people walk by in every clip, with soft steps, and voices murmur
    in some. Each event needs **both** modalities, because a harmless look-alike copies it in
    one of them (:data:`WATCH_SCENES`):

    ===========  ====================================  ========================================
    event        video                                 audio
    ===========  ====================================  ========================================
    intrusion    the door flies open, a person enters  a loud bang (the lock is forced), steps
    glass_break  the window flashes, then darkens      a glass crash
    fight        two people lurch at each blow         blows (thuds) and shouts
    ===========  ====================================  ========================================

    Look-alikes (class ``normal``): ``staff_entry`` (looks like an intrusion; sounds like a soft
    click of the key and steps), ``corridor_slam`` (nothing to see; sounds like an intrusion,
    outside the view), ``lamp_off`` (the street lamp outside switches off: looks like a glass
    break; silent), ``bottle_drop`` (nothing to see; a crash next door), ``moving_furniture``
    (two people shift a table: looks like a fight; faint thumps and murmur), ``argument``
    (nothing to see; neighbours shout and bang on the table: sounds like a fight). Blows are
    seen and heard at the same instants, and the harder the blow, the bigger the lurch and the
    louder the thud. Recording conditions (:data:`WATCH_CONDITIONS`): ``clear``; ``dark`` (the
    room light is off: the door opening onto the lit corridor and the window still show, the
    people hardly do); ``noisy`` (building works next door: their noise masks most sounds and
    their vibrations shake the camera by a pixel from frame to frame).

    The scene's happening starts at ``metadata["onset"]`` seconds (video time; NaN for the quiet
    scene). Frame ``k`` integrates the light of ``[k / fps, (k + 1) / fps)``, so a door that
    opens or a window that changes mid-frame shows partly, as in a real exposure. With
    ``max_offset > 0`` the whole audio track is shifted by ``metadata["av_offset"]`` seconds,
    uniform in ``[-max_offset, max_offset]`` (positive = audio late); it can be recovered by
    aligning the audio loudness envelope with the video's motion energy. Stands in for
    XD-Violence (Wu et al., 2020, "Not only Look, but also Listen: Learning Multimodal Violence
    Detection under Weak Supervision", ECCV) and UCF-Crime (Sultani et al., 2018, "Real-world
    Anomaly Detection in Surveillance Videos", CVPR) style data.

    Args:
        n_samples: number of clips.
        seed: seed of everything random.
        n_frames: video frames per clip (frame rate = ``n_frames`` per second).
        frame_size: frame side in pixels (>= 16).
        sample_rate: audio samples per second (2,000-16,000).
        event_probs: probabilities of normal, intrusion, glass_break, fight (sum to 1).
        lookalike_rate: probability that a normal clip holds one of the six look-alikes
            (uniformly) rather than the quiet scene; 0 makes every event easy for one modality.
        condition_probs: probabilities of the conditions clear, dark, noisy (sum to 1).
        max_offset: largest audio-video offset in seconds (0 = aligned; at most 0.5).
        strength: multiplier of how visible / audible the happenings are (1 = default).
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``video`` ``(n, T, S, S, 1)`` float32 in
        [0, 1] (``T = n_frames``, ``S = frame_size``) and ``audio`` ``(n, sample_rate)`` float32
        waveform; tasks ``event`` (int32, :data:`EVENTS`) and ``anomaly`` (int32, 1 = not
        normal); metadata ``scene`` (int8 index into ``info["scenes"]`` =
        :data:`WATCH_SCENES`), ``condition`` (int8 index into ``info["conditions"]`` =
        :data:`WATCH_CONDITIONS`), ``onset`` (float32 s, NaN for the quiet scene),
        ``av_offset`` (float32 s), ``n_people`` (int8: walkers, entrant and pair).
    """
    check_common(n_samples, seed, missing_rate)
    T = check_int("n_frames", n_frames, minimum=4, maximum=64)
    S = check_int("frame_size", frame_size, minimum=16, maximum=96)
    sr = check_int("sample_rate", sample_rate, minimum=2000, maximum=16000)
    probs = _probabilities("event_probs", event_probs, EVENTS)
    cprobs = _probabilities("condition_probs", condition_probs, WATCH_CONDITIONS)
    lookalike_rate = check_float("lookalike_rate", lookalike_rate, minimum=0.0, maximum=1.0)
    max_offset = check_float("max_offset", max_offset, minimum=0.0, maximum=0.5)
    strength = check_float("strength", strength, minimum=0.0, maximum=3.0)
    # stream order is part of the data: append new streams at the end
    r_lat, r_vid, r_aud = rng_streams(seed, 3)

    sc = _scenes(r_lat, n_samples, probs, lookalike_rate, cprobs, max_offset)
    frames, n_people = _video(r_vid, sc, T, S, strength)
    audio = _audio(r_aud, sc, sr, strength)

    event = sc["event"]
    knobs = {"n_samples": n_samples, "seed": seed, "n_frames": T, "frame_size": S,
             "sample_rate": sr, "event_probs": tuple(float(p) for p in probs),
             "lookalike_rate": lookalike_rate,
             "condition_probs": tuple(float(p) for p in cprobs), "max_offset": max_offset,
             "strength": strength, "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "watch", {"video": frames[..., None], "audio": audio},
        {"event": event.astype(np.int32), "anomaly": (event > 0).astype(np.int32)},
        metadata={"scene": sc["scene"].astype(np.int8),
                  "condition": sc["condition"].astype(np.int8),
                  "onset": sc["onset"].astype(np.float32),
                  "av_offset": sc["offset"].astype(np.float32),
                  "n_people": n_people.astype(np.int8)},
        info={"kinds": {"video": "video", "audio": "audio"},
              "class_names": {"event": list(EVENTS), "anomaly": ["normal", "anomaly"]},
              "scenes": list(WATCH_SCENES), "conditions": list(WATCH_CONDITIONS),
              "row_label_metadata": {"scene": list(WATCH_SCENES),
                                     "condition": list(WATCH_CONDITIONS)},
              "sample_rate": sr, "fps": T, "knobs": knobs})
    return finish(ds, missing_rate, seed)


def _probabilities(name: str, value: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """``value`` as a probability vector over ``names``, or a ValueError naming ``name``."""
    try:
        probs = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        probs = np.zeros(0)
    if (probs.shape != (len(names),) or not np.isfinite(probs).all() or (probs < 0).any()
            or abs(probs.sum() - 1) > 1e-6):
        raise ValueError(f"{name} must be {len(names)} non-negative numbers (for {list(names)}) "
                         f"that sum to 1, got {value!r}.")
    return probs


def _scenes(gen: np.random.Generator, n: int, probs: np.ndarray, lookalike_rate: float,
            cprobs: np.ndarray, max_offset: float) -> dict[str, np.ndarray]:
    """The latent scenes ``(n,)``: ``event`` class, ``scene`` (index into
    :data:`WATCH_SCENES`), its ``video`` and ``audio`` cues, ``condition``, ``onset`` (s, NaN
    for the quiet scene), the audio-video ``offset`` (s), the ``beats`` ``(n, 4)`` (s) of
    scuffles and table-banging and their ``force`` ``(n, 4)`` (1 for the first)."""
    event = gen.choice(4, size=n, p=probs)
    lookalike = 4 + gen.integers(0, 6, n)  # one of the six look-alikes, uniformly
    normal_scene = np.where(gen.random(n) < lookalike_rate, lookalike, 0)
    scene = np.where(event == 0, normal_scene, event)
    condition = gen.choice(3, size=n, p=cprobs)
    onset = np.where(scene > 0, gen.uniform(0.2, 0.6, n), np.nan)
    offset = gen.uniform(-max_offset, max_offset, n) if max_offset > 0 else np.zeros(n)
    # beats of a scuffle (blows, lunges; a table shifted) or of table-banging: 4 times from the
    # onset, 0.12-0.3 s apart; seen and heard at the same instants
    # force: it starts with the hardest (a shove, a fist on the table); the harder the blow,
    # the bigger the lurch and the louder the thud
    beats = np.cumsum(np.concatenate([np.zeros((n, 1)), gen.uniform(0.12, 0.3, (n, 3))], 1), 1)
    force = np.concatenate([np.ones((n, 1)), gen.uniform(0.25, 0.6, (n, 3))], 1)
    return {"event": event, "scene": scene, "video": _SCENE_TABLE[scene, 1],
            "audio": _SCENE_TABLE[scene, 2], "condition": condition, "onset": onset,
            "offset": offset, "beats": onset[:, None] + beats, "force": force}


# ------------------------------------------------------------------------------------------
# video
# ------------------------------------------------------------------------------------------


def _video(gen: np.random.Generator, sc: dict[str, np.ndarray], T: int, S: int,
           strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(n, T, S, S)`` in [0, 1] and the number of people in the scene ``(n,)``.

    ``frame = base * (1 - people)`` + sensor noise, where ``base`` is the room lit by the room
    light (dim in the dark condition), with the door (the lit corridor shows when it opens) and
    the window (outside light) as light sources of their own.
    """
    f32, sc_ = np.float32, S / 24  # geometry is given for 24 x 24 frames
    n = len(sc["scene"])
    grid = np.arange(S, dtype=f32) + f32(0.5)
    dark = sc["condition"] == 1
    onset = np.nan_to_num(sc["onset"], nan=2.0)  # quiet scenes: "after the clip"
    # exposure fractions after a time: frame k integrates [k / T, (k + 1) / T)
    sub = (np.arange(T)[:, None] + (np.arange(4)[None, :] + 0.5) / 4) / T  # (T, 4) sub-times

    def exposed(t0: np.ndarray, ramp: float = 0.0) -> np.ndarray:
        """Mean over each frame's exposure of a 0 -> 1 ramp starting at ``t0`` ``(n,)``."""
        x = (sub[None] - t0[:, None, None]) / max(ramp, 1e-6)
        return np.clip(x, 0, 1).mean(2)  # (n, T)

    # room light (slow drift: clouds, auto exposure), wall / floor / closed door reflectance
    light = np.where(dark, gen.uniform(0.1, 0.2, n), gen.uniform(0.85, 1.1, n))
    drift = gen.normal(0, 0.06, n)[:, None] * (np.arange(T) / T - 0.5)[None, :]
    light_t = (light[:, None] * (1 + drift)).astype(f32)  # (n, T)
    door_left = gen.random(n) < 0.5
    door_cols = np.where(door_left[:, None], (grid >= 2 * sc_) & (grid < 7 * sc_),
                         (grid >= 17 * sc_) & (grid < 22 * sc_))
    door = door_cols[:, None, :] & ((grid >= 4 * sc_) & (grid < 14 * sc_))[None, :, None]
    window = (((grid >= 2 * sc_) & (grid < 9 * sc_))[:, None]
              & ((grid >= 8.5 * sc_) & (grid < 15.5 * sc_))[None, :])
    wall = gen.uniform(0.45, 0.6, n).astype(f32)
    floor = gen.uniform(0.28, 0.38, n).astype(f32)
    refl = np.where((grid < 14 * sc_)[None, :, None], wall[:, None, None], floor[:, None, None])
    refl = np.where(door, f32(0.2), refl).astype(f32)
    refl = np.where(window[None], f32(0), refl)
    base = refl[:, None] * light_t[:, :, None, None]  # (n, T, S, S)
    # the door: flies open in 0.05 s at the onset of an entry; the lit corridor shows through it
    is_entry = sc["video"] == 1
    door_open = exposed(np.where(is_entry, onset, 2.0), 0.05) * strength  # (n, T)
    corridor = gen.uniform(0.55, 0.75, n)[:, None] * np.minimum(door_open, 1.0)
    closed = 0.2 * light_t
    door_val = (closed * (1 - np.minimum(door_open, 1.0)) + corridor).astype(f32)
    base = np.where(door[:, None], door_val[:, :, None, None], base)
    # the window: outside light; flickers; headlights pass in some clips (any scene); a window
    # cue (pane breaks / street lamp goes off) is a short flash, then it stays darker (both
    # relative to the outside light)
    outside = np.where(dark, gen.uniform(0.45, 0.65, n), gen.uniform(0.7, 0.9, n))
    win = outside[:, None] * (1 + gen.normal(0, 0.015, (n, T)))
    passing = gen.random(n) < 0.2
    win += np.where(passing[:, None] & (np.arange(T)[None, :] == gen.integers(0, T, n)[:, None]),
                    gen.uniform(0.05, 0.1, n)[:, None], 0.0)
    is_window = sc["video"] == 2
    t_win = np.where(is_window, onset, 2.0)
    flash = exposed(t_win) - exposed(t_win + 0.04)  # share of the exposure in the flash
    win *= 1 + strength * (gen.uniform(0.3, 0.45, n)[:, None] * flash
                           - gen.uniform(0.3, 0.45, n)[:, None] * exposed(t_win + 0.04))
    base = np.where(window[None, None], win.astype(f32)[:, :, None, None], base)
    people, n_people = _people(gen, sc, door_left, onset, grid, T, sc_, strength)
    frames = np.subtract(1, people, out=people)
    frames *= base
    shaky = np.flatnonzero(sc["condition"] == 2)  # building works shake the camera
    if shaky.size:
        frames[shaky] = _shake(gen, frames[shaky], max(1, round(sc_)))
    noise = gen.standard_normal(frames.shape, dtype=f32)
    noise *= np.where(dark, 0.05, 0.03).astype(f32)[:, None, None, None]
    frames += noise
    np.clip(frames, 0, 1, out=frames)
    return frames, n_people


def _people(gen: np.random.Generator, sc: dict[str, np.ndarray], door_left: np.ndarray,
            onset: np.ndarray, grid: np.ndarray, T: int, sc_: float, strength: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Darkness ``(n, T, S, S)`` of five person slots — 2 walkers (every scene), an entrant (in
    through the door after it opens), a pair (scuffling after the onset) — and the
    number of people ``(n,)``."""
    f32, n = np.float32, len(onset)
    t_mid = ((np.arange(T) + 0.5) / T)[None, :]  # (1, T) mid-exposure times
    n_walk = gen.choice(3, size=n, p=(0.35, 0.4, 0.25))
    xs, ys, depth, sx, sy = [], [], [], [], []
    for k in range(2):  # walkers: slow, across the floor
        v = gen.uniform(2.4, 8.0, n) * np.where(gen.random(n) < 0.5, -1, 1)  # px / s
        xs.append((gen.uniform(3, 21, n)[:, None] + v[:, None] * t_mid) * sc_)
        ys.append(np.repeat(gen.uniform(15, 19, n)[:, None] * sc_, T, axis=1))
        depth.append(np.where(n_walk > k, 0.75, 0.0)[:, None] + 0 * t_mid)
        sx.append(1.3)
        sy.append(3.0)
    # the entrant: in the doorway 0.05 s after the door starts to open, then into the room
    is_entry = sc["video"] == 1
    since = np.clip(t_mid - onset[:, None] - 0.05, 0, None)  # (n, T) seconds in the room
    inside = is_entry[:, None] & (t_mid >= onset[:, None] + 0.05)
    v = np.where(door_left, 1, -1) * gen.uniform(8, 16, n)
    xs.append((np.where(door_left, 4.5, 19.5)[:, None] + v[:, None] * since) * sc_)
    ys.append((11 + 5 * np.minimum(since / 0.3, 1.0)) * sc_)
    depth.append(np.where(inside, min(0.85, 0.75 * strength), 0.0))
    sx.append(1.5)
    sy.append(2.6)
    # the pair: standing close for the whole clip; from the onset they scuffle (a fight, or two
    # people shifting a table): a shove at the first beat moves both 3.5 px sideways, closer
    # together; at each later beat each lurches 3.5 px times the beat's force, any direction
    pair = sc["video"] == 3
    t_beats = np.where(pair[:, None], sc["beats"], 2.0)
    n_past = (t_mid[:, :, None] >= t_beats[:, None, :]).sum(2)  # (n, T) beats so far
    centre = gen.uniform(7, 17, n)[:, None]
    shove = np.where(gen.random(n) < 0.5, -1.0, 1.0) * 3.5 * strength
    for side in (-1, 1):
        angle = gen.uniform(0, 2 * np.pi, (n, 3))
        lurch = 3.5 * strength * sc["force"][:, 1:]
        steps_x = np.concatenate([np.zeros((n, 1)), shove[:, None], lurch * np.cos(angle)], 1)
        steps_y = np.concatenate([np.zeros((n, 2)), 0.5 * lurch * np.sin(angle)], 1)
        gap = 2.5 - 0.9 * np.minimum(n_past, 1)
        jx = np.take_along_axis(np.cumsum(steps_x, 1), n_past, 1)
        jx += gen.normal(0, 0.15, (n, T)) * (n_past > 0)
        jy = np.take_along_axis(np.cumsum(steps_y, 1), n_past, 1)
        xs.append((centre + side * gap + jx) * sc_)
        ys.append((16.5 + jy) * sc_)
        depth.append(np.where(pair, 0.75, 0.0)[:, None] + 0 * t_mid)
        sx.append(1.3)
        sy.append(3.0)
    # darkness(t) = sum_p depth_p * gy_p (x) gx_p: one batched matrix product for all people
    gx = np.stack([_blob(x.astype(f32), s_ * sc_, grid) for x, s_ in zip(xs, sx, strict=True)],
                  axis=2)  # (n, T, P, S)
    gy = np.stack([_blob(y.astype(f32), s_ * sc_, grid) * d[..., None].astype(f32)
                   for y, s_, d in zip(ys, sy, depth, strict=True)], axis=2)
    dark = np.matmul(gy.transpose(0, 1, 3, 2), gx)  # (n, T, S, S)
    n_people = n_walk + is_entry + 2 * pair
    return np.clip(dark, 0, 0.9, out=dark), n_people


def _shake(gen: np.random.Generator, frames: np.ndarray, step: int) -> np.ndarray:
    """``frames`` ``(m, T, S, S)`` each shifted by ``-step``, 0 or ``step`` pixels along each
    axis at random (edges repeated): a camera shaken by vibrations."""
    m, T, S = frames.shape[:3]
    dy, dx = (gen.integers(-1, 2, (2, m, T)) * step)
    rows = np.clip(np.arange(S)[None, None, :] + dy[..., None], 0, S - 1)  # (m, T, S)
    cols = np.clip(np.arange(S)[None, None, :] + dx[..., None], 0, S - 1)
    i = np.arange(m)[:, None, None, None]
    t = np.arange(T)[None, :, None, None]
    return frames[i, t, rows[..., None], cols[:, :, None, :]]


def _blob(centre: np.ndarray, sigma: float, grid: np.ndarray) -> np.ndarray:
    """1-D Gaussian profiles ``(..., len(grid))`` for centres ``(...)`` of width ``sigma``."""
    d = (grid - centre[..., None]) / np.float32(sigma)
    return np.exp(np.float32(-0.5) * d * d)


# ------------------------------------------------------------------------------------------
# audio
# ------------------------------------------------------------------------------------------


def _audio(gen: np.random.Generator, sc: dict[str, np.ndarray], sr: int, strength: float
           ) -> np.ndarray:
    """Waveforms ``(n, sr)``: room tone (pink noise; loud in the noisy condition), 50 Hz hum,
    background footsteps and murmurs, and the scene's sounds at their (audio) times."""
    f32, n = np.float32, len(sc["scene"])
    t = np.arange(sr, dtype=f32) / f32(sr)
    noisy = sc["condition"] == 2
    level = np.where(noisy, gen.uniform(0.12, 0.3, n), gen.uniform(0.008, 0.02, n))
    audio = colored_noise(gen, n, sr, exponent=1.0, scale=level)
    hum_phase = gen.uniform(0, 2 * np.pi, n).astype(f32)
    audio += f32(0.01) * np.sin(f32(2 * np.pi * 50) * t[None, :] + hum_phase[:, None])
    banks = {k: _sound_bank(gen, k, sr)
             for k in ("thump", "murmur", "shout", "crash", "bang", "click")}
    offset = sc["offset"]
    t0 = np.nan_to_num(sc["onset"]) + offset  # audio time of the happening
    cue = sc["audio"]

    def at(seconds: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(seconds) * sr).astype(np.int64)

    def mix(idx: np.ndarray, seconds: np.ndarray, kind: str, gain: float) -> None:
        _mix_in(audio, idx, at(seconds), banks[kind], gen, gain)

    # background, every scene: passers-by's soft steps, sometimes a murmur of voices
    idx = np.flatnonzero(gen.random(n) < 0.6)
    first = gen.uniform(0, 0.5, idx.size) + offset[idx]
    for k in range(2):
        mix(idx, first + 0.5 * k, "thump", 0.04)
    idx = np.flatnonzero(gen.random(n) < 0.3)
    mix(idx, gen.uniform(0, 0.6, idx.size) + offset[idx], "murmur", 0.06)
    # the door: forced or slammed (bang) or unlocked (click), then quick steps
    idx = np.flatnonzero(cue == 1)
    mix(idx, t0[idx], "bang", 0.45 * strength)
    idx = np.flatnonzero(cue == 2)
    mix(idx, t0[idx], "click", 0.08 * strength)
    idx = np.flatnonzero((cue == 1) | (cue == 2))
    for k in range(3):
        mix(idx, t0[idx] + 0.1 + 0.2 * k, "thump", 0.06 * strength)
    idx = np.flatnonzero(cue == 3)  # glass crash
    mix(idx, t0[idx], "crash", 0.55 * strength)
    beats = sc["beats"] + offset[:, None]  # audio times of the beats
    idx = np.flatnonzero(cue == 4)  # blows (or fists on the table) at the beats, shouts
    for k in range(beats.shape[1]):
        mix(idx, beats[idx, k], "thump", 0.25 * strength * sc["force"][idx, k])
    for k, gain in ((0, 0.12), (2, 0.07)):  # a shout with the first blow, a lower one later
        mix(idx, beats[idx, k] + gen.uniform(0.0, 0.03, idx.size), "shout", gain * strength)
    idx = np.flatnonzero(cue == 5)  # furniture bumped and set down at the beats, a murmur
    for k in range(beats.shape[1]):
        mix(idx, beats[idx, k], "thump", 0.08 * strength * sc["force"][idx, k])
    mix(idx, t0[idx] + gen.uniform(0.0, 0.2, idx.size), "murmur", 0.06 * strength)
    return audio


def _sound_bank(gen: np.random.Generator, kind: str, sr: int, variants: int = 48) -> np.ndarray:
    """Short synthetic sounds ``(variants, length)``, peak-normalised, float32.

    ``thump`` (footstep / blow: decaying low sine), ``murmur`` (low voice: harmonic tone
    110-180 Hz with vibrato), ``shout`` (220-400 Hz, louder harmonics), ``crash`` (breaking
    glass: broadband burst + high ringing partials + tinkles), ``bang`` (a door forced or
    slammed: a broadband crack, a low boom and a rattle), ``click`` (a key turning: two short
    high clicks).
    """
    dur = {"thump": 0.15, "murmur": 0.5, "shout": 0.3, "crash": 0.5, "bang": 0.3,
           "click": 0.08}[kind]
    t = np.arange(int(dur * sr)) / sr
    v = variants
    if kind == "thump":
        f = gen.uniform(50, 120, (v, 1))
        x = np.exp(-t / gen.uniform(0.02, 0.04, (v, 1))) * np.sin(2 * np.pi * f * t)
    elif kind in ("murmur", "shout"):
        lo, hi, n_h = (110, 180, 3) if kind == "murmur" else (220, 400, 5)
        length = gen.uniform(0.5, 1.0, (v, 1)) * dur
        f0 = gen.uniform(lo, hi, (v, 1))
        phase = 2 * np.pi * (f0 * t + gen.uniform(2, 15, (v, 1)) / 6 * np.sin(2 * np.pi * 6 * t))
        if kind == "murmur":  # a soft swell
            env = np.sqrt(np.clip(np.sin(np.pi * np.clip(t / length, 0, 1)), 0, None))
        else:  # a shout starts abruptly (20 ms) and fades out
            env = np.clip(t / 0.02, 0, 1) * np.clip((length - t) / (0.3 * length), 0, 1)
        x = env * sum(np.sin(h * phase) / h ** (1.5 if kind == "murmur" else 0.7)
                      for h in range(1, n_h + 1))
    elif kind == "crash":
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
    elif kind == "bang":
        crack = gen.standard_normal((v, t.size)) * np.exp(-t / gen.uniform(0.008, 0.015, (v, 1)))
        boom = np.exp(-t / gen.uniform(0.05, 0.09, (v, 1))) * np.sin(
            2 * np.pi * gen.uniform(60, 110, (v, 1)) * t)
        rattle = 0.3 * np.exp(-t / 0.08) * np.sin(2 * np.pi * gen.uniform(400, 700, (v, 1)) * t) \
            * (np.sin(2 * np.pi * gen.uniform(20, 35, (v, 1)) * t) > 0)
        x = crack + 1.2 * boom + rattle
    else:  # click
        x = np.zeros((v, t.size))
        for t_c in (gen.uniform(0.0, 0.01, (v, 1)), gen.uniform(0.03, 0.06, (v, 1))):
            tt = t - t_c
            x += (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.003) * np.sin(
                2 * np.pi * gen.uniform(0.25, 0.4, (v, 1)) * sr * tt)
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
