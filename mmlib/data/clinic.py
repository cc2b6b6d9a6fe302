"""``clinic``: synthetic patients whose latent disease drives a scan, an EHR table, a clinical note
and gene expression (the medical case study).

Steps of :func:`load_clinic`: the latent patients (:func:`_patients`) → the scan
(:func:`_scan`: anatomy, lesions, acquisition) → the EHR table (:func:`_ehr`) → the note
(:func:`_notes`) → the genes (:func:`_genes`) → the labels (:func:`_risk`) → the container. The
data card is in ``datasets/README.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmlib._common import rng, rng_streams
from mmlib._validate import check_float, check_int
from mmlib.data._build import check_common, finish
from mmlib.data.container import MultimodalDataset
from mmlib.data.text import tokenize
from mmlib.preprocess.signal import resize_images

__all__ = ["CLINIC_VOCAB", "DIAGNOSES", "EHR_COLUMNS", "EHR_UNITS", "GENE_PATHWAYS", "SYMPTOMS",
           "load_clinic"]

DIAGNOSES: tuple[str, ...] = ("healthy", "benign_lesion", "malignant_lesion", "inflammation")
"""Classes of the ``clinic`` task ``diagnosis``."""
EHR_COLUMNS: tuple[str, ...] = ("age", "sex", "heart_rate", "systolic_bp", "temperature", "bmi",
                                "wbc", "crp", "alt", "albumin", "hemoglobin", "creatinine",
                                "ca19_9")
"""Columns of the ``clinic`` modality ``ehr``."""
EHR_UNITS: tuple[str, ...] = ("years", "(1=male)", "bpm", "mmHg", "degC", "kg/m2",
                              "10^9/L", "mg/L", "U/L", "g/dL", "g/dL", "mg/dL", "U/mL")
"""Units of :data:`EHR_COLUMNS`."""
SYMPTOMS: tuple[str, ...] = ("fever", "weight loss", "abdominal pain", "jaundice", "fatigue",
                             "night sweats", "nausea")
"""Symptoms the ``clinic`` notes mention, present or negated."""
# P(symptom | diagnosis): rows healthy, benign, malignant, inflammation (a benign lesion causes
# no symptoms: its row equals the healthy one, and so do its visit reasons and history)
_P_SYMPTOM = np.array([[0.03, 0.03, 0.10, 0.01, 0.15, 0.03, 0.08],
                       [0.03, 0.03, 0.10, 0.01, 0.15, 0.03, 0.08],
                       [0.12, 0.55, 0.45, 0.25, 0.60, 0.30, 0.30],
                       [0.65, 0.10, 0.55, 0.35, 0.50, 0.20, 0.40]])
_REASONS = ("routine check", "abdominal discomfort", "abnormal labs", "follow up")
_P_REASON = np.array([[0.60, 0.15, 0.10, 0.15], [0.60, 0.15, 0.10, 0.15],
                      [0.15, 0.35, 0.30, 0.20], [0.10, 0.40, 0.35, 0.15]])
_HISTORY = ("alcohol use", "smoking", "diabetes")
_P_HISTORY = np.array([[0.10, 0.20, 0.10], [0.10, 0.20, 0.10], [0.10, 0.40, 0.15],
                       [0.35, 0.20, 0.15]])
CLINIC_VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", ".", "seen", "for", *sorted({w for r in _REASONS for w in r.split()}),
    "female", "male", "patient", "history", "of", "no", "reports", "complains", "denies",
    "evidence", "noted", *sorted({w for r in (*SYMPTOMS, *_HISTORY) for w in r.split()}))
"""Token vocabulary of the ``clinic`` notes (0 = padding, 1 = unknown)."""
GENE_PATHWAYS: tuple[str, ...] = ("proliferation", "immune", "hepatic_metabolism")
"""The three 12-gene signatures of ``clinic`` genes 0-11, 12-23 and 24-35."""

_GENE_BIOLOGY_SEED = 20240611
"""Seed of the gene baselines, loadings and batch effects: the same "biology" for every seed."""


def load_clinic(n_samples: int = 2000, seed: int = 0, *, scan_size: int = 48,
                site_shift: float = 1.0, scan_noise: float = 1.0, ehr_missing: float = 0.15,
                genes: bool = True, missing_rate: float = 0.0) -> MultimodalDataset:
    """Synthetic patients: a latent disease drives a scan, an EHR table, a note and genes.

    The medical case study. Each patient has a diagnosis (healthy, benign lesion, malignant
    lesion, inflammation), a severity in (0, 1), an age, a sex and a hospital *site* (two scanner
    sites with different calibration, noise and case mix: a domain shift). From these:

    * **scan**: a grayscale abdominal slice: body outline, spine, a liver-like organ with
      texture; lesions are hypodense round or lobulated blobs (benign and malignant lesions
      look alike apart from size and lobulation, which overlap); inflammation enlarges and
      brightens the organ and makes it heterogeneous. Site 1 has another intensity calibration,
      more noise and a bias field.
    * **ehr**: 13 columns: age, sex, vitals and labs in
      realistic ranges (CRP, WBC, ALT rise with inflammation; the tumour marker CA 19-9 rises in
      75 % of malignant cases; albumin and haemoglobin fall). Values missing at random are NaN
      (``metadata["ehr_observed"]`` is the mask); age and sex are never missing. Units:
      ``info["feature_units"]["ehr"]``.
    * **note**: templated sentences with negation ("seen for follow up . denies fever . reports
      weight loss . no history of smoking ."), token ids and raw text.
    * **genes** (optional): 64 log-expression values, three pathway signatures (proliferation
      up in malignant, immune up in inflammation, hepatic metabolism down in both) plus a
      site batch effect.

    Benign vs healthy differ only in the scan; benign vs malignant mostly in labs, note and
    genes; so the benign class is identified only by combining the scan with another modality.
    The ``risk`` label is an adverse-outcome probability (logistic in diagnosis, severity, age,
    albumin). Stands in for MIMIC-IV-style EHR + imaging + notes and TCGA-style genomics.

    Args:
        n_samples: number of patients.
        seed: seed of everything random.
        scan_size: side of the square scan in pixels (>= 32).
        site_shift: strength of the site-1 domain shift (0 = sites look the same).
        scan_noise: multiplier of the scanner noise.
        ehr_missing: probability that a vital or lab value is missing (CA 19-9: twice that).
        genes: include the ``genes`` modality.
        missing_rate: probability that each modality is missing in a sample.

    Returns:
        :class:`MultimodalDataset` with modalities ``scan`` ``(n, S, S, 1)``, ``ehr`` ``(n, 13)``
        (NaN = missing), ``note`` ``(n, 48)`` int32 and ``genes`` ``(n, 64)`` float32; tasks
        ``diagnosis`` (int32) and ``risk`` (float32 in (0, 1)); metadata ``site``,
        ``severity``, ``ehr_observed`` ``(n, 13)``, ``note_text``, ``n_lesions``.
    """
    check_common(n_samples, seed, missing_rate)
    size = check_int("scan_size", scan_size, minimum=32, maximum=128)
    site_shift = check_float("site_shift", site_shift, minimum=0.0, maximum=3.0)
    scan_noise = check_float("scan_noise", scan_noise, minimum=0.0)
    ehr_missing = check_float("ehr_missing", ehr_missing, minimum=0.0, maximum=0.5)
    if not isinstance(genes, bool):
        raise TypeError(f"genes must be True or False, got {genes!r}.")
    # stream order is part of the data: append new streams at the end
    r_lat, r_scan, r_ehr, r_note, r_gene = rng_streams(seed, 5)

    p = _patients(r_lat, n_samples)
    scan, n_les = _scan(p, r_scan, size, site_shift, scan_noise)
    ehr, observed, low_albumin = _ehr(p, r_ehr, ehr_missing)
    notes = _notes(p, r_note)
    modalities = {"scan": scan, "ehr": ehr, "note": tokenize(notes, CLINIC_VOCAB, 48)}
    if genes:
        modalities["genes"] = _genes(p, r_gene, site_shift)

    knobs = {"n_samples": n_samples, "seed": seed, "scan_size": size, "site_shift": site_shift,
             "scan_noise": scan_noise, "ehr_missing": ehr_missing, "genes": genes,
             "missing_rate": missing_rate}
    ds = MultimodalDataset(
        "clinic", modalities, {"diagnosis": p["dx"].astype(np.int32),
                               "risk": _risk(p, low_albumin)},
        metadata={"site": p["site"], "severity": p["severity"].astype(np.float32),
                  "ehr_observed": observed, "note_text": np.array(notes),
                  "n_lesions": n_les.astype(np.int8)},
        info=_info(genes, knobs))
    return finish(ds, missing_rate, seed)


def _patients(gen: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The latent state of ``n`` patients: diagnosis ``dx``, ``site``, ``severity`` in (0, 1)
    (0 if healthy), ``malignant`` and ``inflamed`` (0/1 floats), ``age`` (years), ``male``."""
    dx = gen.choice(4, size=n, p=[0.30, 0.20, 0.25, 0.25])
    site = (gen.random(n) < np.array([0.35, 0.45, 0.65, 0.55])[dx]).astype(np.int32)
    severity = np.where(dx == 0, 0.0, gen.beta(2.0, 2.0, size=n))
    malignant, inflamed = (dx == 2).astype(float), (dx == 3).astype(float)
    age = np.clip(gen.normal(52, 14, size=n) + 8 * malignant, 18, 90).round()
    male = (gen.random(n) < 0.5).astype(float)
    return {"dx": dx, "site": site, "severity": severity, "malignant": malignant,
            "inflamed": inflamed, "age": age, "male": male}


def _scan(p: dict[str, np.ndarray], gen: np.random.Generator, size: int, site_shift: float,
          scan_noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale abdominal slices ``(n, S, S, 1)`` in [0, 1] and the number of lesions ``(n,)``."""
    grid = ((np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1).astype(np.float32)
    u, v = grid[None, None, :], grid[:, None, None].reshape(1, size, 1)  # grid units in [-1, 1]
    scan, organ, organ_pose = _anatomy(p, gen, u, v, size)
    n_les, lesion_layer = _lesions(p, gen, organ_pose, size)
    scan -= lesion_layer * organ
    return _acquire(scan, p["site"], gen, u, v, site_shift, scan_noise), n_les


def _anatomy(p: dict[str, np.ndarray], gen: np.random.Generator, u: np.ndarray, v: np.ndarray,
             size: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Body outline, liver-like organ with texture, spine and kidney ``(n, S, S)``.

    Returns ``(scan, organ mask, organ pose (cx, cy, a, b, theta))``; inflammation enlarges and
    brightens the organ and makes it heterogeneous.
    """
    f32, n, px = np.float32, len(p["dx"]), 2.0 / size  # grid units per pixel
    severity, inflamed = p["severity"], p["inflamed"]
    ones = np.ones(n, dtype=np.float32)
    body = _ellipse_cover(u, v, 0 * ones, 0.05 * ones, gen.uniform(0.85, 0.95, n),
                          gen.uniform(0.68, 0.8, n), 0 * ones, 2 * px)
    scale = gen.normal(1.0, 0.07, n) * (1 + 0.22 * severity * inflamed)
    org_cx, org_cy = gen.normal(-0.18, 0.04, n), gen.normal(-0.08, 0.04, n)
    org_a, org_b = 0.42 * scale, 0.30 * scale
    org_th = gen.uniform(-0.35, 0.35, n)
    organ = _ellipse_cover(u, v, org_cx, org_cy, org_a, org_b, org_th, 1.5 * px)
    one = ones[:1]
    spine = _ellipse_cover(u, v, 0 * one, 0.55 * one, 0.1 * one, 0.09 * one, 0 * one, px)
    kidney = _ellipse_cover(u, v, gen.normal(0.5, 0.03, n), gen.normal(0.25, 0.03, n),
                            0.14 * ones, 0.09 * ones, gen.uniform(0.6, 1.0, n), px)
    tex_amp = (0.03 + 0.07 * severity * inflamed)[:, None, None]
    texture = resize_images(gen.standard_normal((n, 8, 8), dtype=np.float32), size)
    organ_level = (0.55 + 0.07 * severity * inflamed)[:, None, None]
    scan = f32(0.28) * body
    scan += organ * (organ_level + tex_amp * texture - 0.28).astype(np.float32)
    scan += kidney * f32(0.2) + spine * f32(0.6)
    return scan, organ, (org_cx, org_cy, org_a, org_b, org_th)


def _lesions(p: dict[str, np.ndarray], gen: np.random.Generator,
             organ_pose: tuple[np.ndarray, ...], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hypodense lesions inside the organ (benign: 1 round; malignant: 1-3, often lobulated).

    Returns the number of lesions ``(n,)`` and the lesion depth layer ``(n, S, S)``.
    """
    dx, severity, n, px = p["dx"], p["severity"], len(p["dx"]), 2.0 / size
    org_cx, org_cy, org_a, org_b, org_th = organ_pose
    n_les = np.where(dx == 1, 1, 0) + np.where(
        dx == 2, 1 + (gen.random(n) < 0.5 * severity) + (gen.random(n) < 0.3 * severity), 0)
    lesion_layer = np.zeros((n, size, size), dtype=np.float32)
    r_max_px = 6.5 * size / 48
    patch = int(np.ceil(2 * 1.45 * r_max_px)) + 3
    offs = np.arange(patch)
    for k in range(3):
        idx = np.flatnonzero(n_les > k)
        if not idx.size:
            continue
        sev, is_mal = severity[idx], dx[idx] == 2
        r_px = np.where(is_mal, 2.0 + 4.0 * sev * gen.uniform(0.6, 1.1, idx.size),
                        gen.uniform(2.0, 5.0, idx.size)) * size / 48
        lobe = (gen.random(idx.size) < np.where(is_mal, 0.7, 0.25)).astype(float)
        rho, ang = 0.55 * np.sqrt(gen.random(idx.size)), gen.uniform(0, 2 * np.pi, idx.size)
        cth, sth = np.cos(org_th[idx]), np.sin(org_th[idx])
        lx, ly = rho * np.cos(ang) * org_a[idx], rho * np.sin(ang) * org_b[idx]
        pcx = (org_cx[idx] + cth * lx - sth * ly + 1) / px  # lesion centre in pixels
        pcy = (org_cy[idx] + sth * lx + cth * ly + 1) / px
        x0 = np.clip(np.floor(pcx).astype(np.int64) - patch // 2, 0, size - patch)
        y0 = np.clip(np.floor(pcy).astype(np.int64) - patch // 2, 0, size - patch)
        cov = _lesion_patches(r_px.astype(np.float32), lobe.astype(np.float32),
                              gen.uniform(0, 2 * np.pi, idx.size).astype(np.float32),
                              (pcx - x0 - patch // 2).astype(np.float32),
                              (pcy - y0 - patch // 2).astype(np.float32), patch)
        depth = np.where(is_mal, gen.normal(0.2, 0.04, idx.size),
                         gen.normal(0.25, 0.04, idx.size)).astype(np.float32)
        rows = (y0[:, None] + offs)[:, :, None]
        cols = (x0[:, None] + offs)[:, None, :]
        sub = lesion_layer[idx[:, None, None], rows, cols]
        lesion_layer[idx[:, None, None], rows, cols] = np.maximum(sub, cov * depth[:, None, None])
    return n_les, lesion_layer


def _acquire(scan: np.ndarray, site: np.ndarray, gen: np.random.Generator, u: np.ndarray,
             v: np.ndarray, site_shift: float, scan_noise: float) -> np.ndarray:
    """The scanner: site-1 calibration (gain, offset, bias field), noise; ``(n, S, S, 1)``."""
    f32 = np.float32
    shift = site.astype(np.float32)[:, None, None] * f32(site_shift)
    gain = 1 - f32(0.18) * shift
    bias = shift * f32(0.07) * (u + v * f32(0.5))
    scan = scan * gain + f32(0.1) * shift + bias
    sigma = (0.03 + 0.03 * site * site_shift) * scan_noise
    scan += gen.standard_normal(scan.shape, dtype=np.float32) * sigma[:, None, None].astype(
        np.float32)
    return np.clip(scan, 0, 1, out=scan)[..., None]


def _ehr(p: dict[str, np.ndarray], gen: np.random.Generator, ehr_missing: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EHR table ``(n, 13)`` (:data:`EHR_COLUMNS`, NaN = missing), its observed mask and
    ``low_albumin`` (``(n,)`` bool, before values go missing: the outcome does not care)."""
    n, age, male = len(p["dx"]), p["age"], p["male"]
    severity, malignant, inflamed = p["severity"], p["malignant"], p["inflamed"]
    z = gen.standard_normal((n, 11))
    ca_secretor = gen.random(n) < 0.75
    ehr = np.column_stack([
        age, male,
        (74 + 9 * z[:, 0] + 12 * severity * inflamed + 4 * severity * malignant).round(),
        (122 + 14 * z[:, 1] + 0.35 * (age - 50)).round(),
        (36.8 + 0.3 * z[:, 2] + severity * inflamed * gen.uniform(0.8, 2.2, n)
         + 0.2 * severity * malignant).round(1),
        (27 + 4.5 * z[:, 3] - 3 * severity * malignant).round(1),
        (7 * np.exp(0.25 * z[:, 4]) * (1 + 1.1 * severity * inflamed)).round(1),
        (2.5 * np.exp(0.7 * z[:, 5]) * (1 + 30 * severity * inflamed + 4 * severity * malignant)
         ).round(1),
        (24 * np.exp(0.35 * z[:, 6]) * (1 + 5 * severity * inflamed + 0.8 * severity * malignant)
         ).round(),
        (4.2 + 0.3 * z[:, 7] - 0.7 * severity * (inflamed + malignant)).round(1),
        (13.2 + 1.4 * male + 1.0 * z[:, 8] - 1.6 * severity * malignant).round(1),
        ((0.85 + 0.15 * male + 0.15 * z[:, 9]) * (1 + 0.004 * (age - 50))).round(2),
        (12 * np.exp(0.6 * z[:, 10]) * (1 + (4 + 40 * severity) * malignant * ca_secretor
                                        + severity * inflamed)).round(1),
    ]).astype(np.float32)
    low_albumin = ehr[:, 9] < 3.5  # before values go missing: the outcome does not care
    miss_p = np.r_[0.0, 0.0, np.full(10, ehr_missing), min(1.0, 2 * ehr_missing)]
    observed = gen.random((n, len(EHR_COLUMNS))) >= miss_p
    ehr[~observed] = np.nan
    return ehr, observed, low_albumin


def _notes(p: dict[str, np.ndarray], gen: np.random.Generator) -> list[str]:
    """Templated notes: reason for the visit, history and symptoms, present or negated."""
    n, dx, male = len(p["dx"]), p["dx"], p["male"]
    present = gen.random((n, len(SYMPTOMS))) < _P_SYMPTOM[dx]
    mention = gen.random((n, len(SYMPTOMS))) < np.where(present, 0.85, 0.35)
    order = np.argsort(gen.random((n, len(SYMPTOMS))), axis=1)
    form = gen.integers(3, size=(n, len(SYMPTOMS) + len(_HISTORY)))
    reason = (gen.random(n)[:, None] > np.cumsum(_P_REASON[dx], axis=1)).sum(axis=1)
    hist = gen.random((n, len(_HISTORY))) < _P_HISTORY[dx]
    hist_mention = gen.random((n, len(_HISTORY))) < 0.5
    pos_forms = ("reports {} .", "complains of {} .", "{} noted .")
    neg_forms = ("denies {} .", "no {} .", "no evidence of {} .")
    notes = []
    rows_l = [x.tolist() for x in (present, mention, order, form, hist, hist_mention)]
    for i in range(n):
        pres, men, ordr, frm, hst, hmen = (r[i] for r in rows_l)
        parts = [f"{'male' if male[i] else 'female'} patient seen for {_REASONS[reason[i]]} ."]
        for h in range(len(_HISTORY)):
            if hmen[h]:
                parts.append(f"{'' if hst[h] else 'no '}history of {_HISTORY[h]} .")
        for j in ordr:
            if men[j]:
                parts.append((pos_forms if pres[j] else neg_forms)[frm[j]].format(SYMPTOMS[j]))
        notes.append(" ".join(parts))
    return notes


def _genes(p: dict[str, np.ndarray], gen: np.random.Generator, site_shift: float) -> np.ndarray:
    """Log-expression ``(n, 64)`` float32: three pathway signatures, a site batch effect, noise."""
    n, site, severity = len(p["dx"]), p["site"], p["severity"]
    malignant, inflamed = p["malignant"], p["inflamed"]
    fixed = rng(_GENE_BIOLOGY_SEED)  # gene baselines and loadings: fixed "biology"
    base = fixed.uniform(4, 10, 64)
    loadings = np.zeros((3, 64))
    for k in range(3):
        loadings[k, 12 * k: 12 * k + 12] = fixed.uniform(0.6, 1.2, 12)
    batch = fixed.normal(0, 0.35, 64)
    act = np.column_stack([
        malignant * (1.0 + 1.5 * severity),
        inflamed * (1.0 + 1.5 * severity) + 0.4 * malignant,
        -severity * (1.0 * inflamed + 0.6 * malignant),
    ]) + gen.normal(0, 0.3, (n, 3))
    expr = (base + act @ loadings + site[:, None] * site_shift * batch
            + gen.normal(0, 0.5, (n, 64)))
    return expr.astype(np.float32)


def _risk(p: dict[str, np.ndarray], low_albumin: np.ndarray) -> np.ndarray:
    """Probability of an adverse outcome ``(n,)`` float32: logistic in diagnosis, severity, age
    and low albumin."""
    logit = (-3.0 + np.array([0.0, 0.3, 2.0, 1.0])[p["dx"]] + 2.5 * p["severity"]
             + 0.035 * (p["age"] - 55) + 0.6 * low_albumin)
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def _info(genes: bool, knobs: dict[str, Any]) -> dict[str, Any]:
    info = {
        "kinds": {"scan": "image", "ehr": "tabular", "note": "text"},
        "class_names": {"diagnosis": list(DIAGNOSES)},
        "vocab": list(CLINIC_VOCAB), "text_source": {"note": "note_text"},
        "feature_names": {"ehr": list(EHR_COLUMNS)},
        "feature_units": {"ehr": list(EHR_UNITS)},
        "feature_groups": {},
        "row_label_metadata": {"site": None},
        "sites": ["site 0", "site 1"],
        "knobs": knobs,
    }
    if genes:  # describe the genes only when they are a modality
        info["kinds"]["genes"] = "vector"
        info["feature_names"]["genes"] = (
            [f"PROLIF{i + 1}" for i in range(12)] + [f"IMMUNE{i + 1}" for i in range(12)]
            + [f"HEPMET{i + 1}" for i in range(12)] + [f"GENE{i + 37}" for i in range(28)])
        info["feature_groups"]["genes"] = {p: list(range(12 * i, 12 * i + 12))
                                           for i, p in enumerate(GENE_PATHWAYS)}
    return info


def _ellipse_cover(u: np.ndarray, v: np.ndarray, cx: np.ndarray, cy: np.ndarray, a: np.ndarray,
                   b: np.ndarray, theta: np.ndarray, edge: float) -> np.ndarray:
    """Soft ellipse masks ``(n, S, S)`` on a shared grid ``u`` ``(1, 1, S)``, ``v`` ``(1, S, 1)``.

    Centres, semi-axes and angle are ``(n,)`` in grid units; ``edge`` is the width of the soft
    edge. Rotated coordinates are built from broadcast ``(n, 1, S)`` and ``(n, S, 1)`` terms, so
    only a handful of full-size operations are needed.
    """
    def col(x):
        return np.asarray(x, dtype=np.float32)[:, None, None]

    c, s = np.cos(theta), np.sin(theta)
    du, dv = u - col(cx), v - col(cy)
    x = du * col(c / a) + dv * col(s / a)  # (n, 1, S) + (n, S, 1) -> (n, S, S)
    y = dv * col(c / b) - du * col(s / b)
    rho = np.hypot(x, y, out=x)
    k = col(np.minimum(a, b) / edge)
    rho *= -k
    rho += k + np.float32(0.5)  # (1 - rho) * k + 0.5
    return np.clip(rho, 0, 1, out=rho)


def _lesion_patches(r: np.ndarray, lobe: np.ndarray, phi: np.ndarray, fx: np.ndarray,
                    fy: np.ndarray, patch: int) -> np.ndarray:
    """Soft round (``lobe = 0``) or lobulated lesions in ``(k, patch, patch)`` patches.

    ``fx``, ``fy`` in [0, 1) are the sub-pixel centre positions; radii in pixels.
    """
    grid = np.arange(patch, dtype=np.float32) + np.float32(0.5) - patch // 2
    dx = grid[None, None, :] - fx[:, None, None]
    dy = grid[None, :, None] - fy[:, None, None]
    r3 = r[:, None, None]
    main = r3 - np.sqrt(dx * dx + dy * dy)
    lx = dx - (0.75 * r * np.cos(phi))[:, None, None]
    ly = dy - (0.75 * r * np.sin(phi))[:, None, None]
    lobe_r = (0.65 * r * lobe)[:, None, None]
    side = lobe_r - np.sqrt(lx * lx + ly * ly)
    return np.clip(np.maximum(main, side) / np.float32(1.2) + np.float32(0.5), 0, 1)

