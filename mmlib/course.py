"""The course map: notebooks in teaching order, what each teaches, and the datasets it uses.

The README's syllabus table and notebook 00's course-map widget are both read from
:data:`SYLLABUS`, so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmlib.env import REPO_ROOT


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course."""

    number: str
    slug: str
    title: str
    teaches: str
    seed_sections: str
    datasets: tuple[str, ...]

    @property
    def path(self) -> Path:
        return REPO_ROOT / "notebooks" / f"{self.slug}.ipynb"

    @property
    def available(self) -> bool:
        return self.path.exists()


SYLLABUS: tuple[Lesson, ...] = (
    Lesson("00", "00_welcome", "Welcome",
           "course map, environment check, exercises / widgets / slides, reproducibility",
           "1.1, 1.3", ()),
    Lesson("01", "01_multimodal_data", "Multimodal data",
           "modalities as tensors; pairing and synchronisation; missing modalities; heterogeneity",
           "2.1", ("av_digits", "shapes_captions", "clinic", "drive", "watch")),
    Lesson("02", "02_preprocessing_pipelines", "Preprocessing pipelines",
           "per-modality preprocessing layers and tf.signal; missing-value indicators; "
           "multimodal tf.data pipelines; consistent augmentation; measured throughput",
           "3.2.1 (1)", ("av_digits", "shapes_captions", "clinic")),
    Lesson("03", "03_feature_extraction", "Feature extraction",
           "encoders for image, text, audio and tables; unimodal baselines; transfer learning",
           "3.2.1 (2), 2.1", ("av_digits", "shapes_captions")),
    Lesson("04", "04_alignment", "Alignment (特征对齐)",
           "CCA and Deep CCA; contrastive dual encoders (CLIP, SigLIP); retrieval metrics; "
           "cross-modal attention; DTW and soft-DTW",
           "3.2.2, 4.1-4.2", ("shapes_captions", "watch")),
    Lesson("05", "05_fusion", "Fusion (多模态融合)",
           "early / late / intermediate; tensor, low-rank, gated, FiLM, bilinear, attention and "
           "cross-modal transformer fusion; one benchmark table; the seed's code corrected",
           "3.2.3, 5.2-5.3", ("av_digits", "shapes_captions")),
    Lesson("06", "06_training_strategies", "Training strategies",
           "multi-task learning; modality imbalance (OGM-GE, gradient blending, modality "
           "dropout); loss design; hyperparameter search; over-fitting",
           "2.1, 8.4", ("clinic", "av_digits")),
    Lesson("07", "07_robustness_interpretability", "Robustness and interpretability",
           "corruption sweeps; missing modalities; FGSM and adversarial training; integrated "
           "gradients; modality Shapley values; calibration",
           "3.3, 8.3, 8.4", ("av_digits", "drive")),
    Lesson("08", "08_efficient_deployment", "Efficient deployment",
           "XLA; mixed precision; LiteRT float16 / int8 quantization; pruning; serving signatures "
           "and input validation; drift monitoring; tf.distribute",
           "8.3, 8.4", ("clinic", "drive")),
    Lesson("09", "09_case_medical", "Case study: medical diagnosis",
           "scan + EHR + clinical note: fusion, missing modality, calibration, explanation, "
           "subgroups", "4.3, 6.1", ("clinic",)),
    Lesson("10", "10_case_driving", "Case study: autonomous driving",
           "camera + LiDAR + radar: class and distance, conditions, sensor failure, latency",
           "6.2", ("drive",)),
    Lesson("11", "11_case_security", "Case study: smart security",
           "video + audio: events, anomaly detection, thresholds, audio-video offset, privacy",
           "6.3", ("watch",)),
    Lesson("12", "12_outlook", "Outlook",
           "trends, open problems, foundation models, a capstone project template", "6.4, 8", ()),
)


def lesson(key: str) -> Lesson:
    """Look a lesson up by number (``"05"``) or slug (``"05_fusion"``)."""
    for item in SYLLABUS:
        if key in (item.number, item.slug):
            return item
    raise ValueError(f"key must be a lesson number or slug such as '05' or '05_fusion', "
                     f"got {key!r}; known: {[s.slug for s in SYLLABUS]}.")


def syllabus_markdown(link_prefix: str = "notebooks/") -> str:
    """The syllabus as a Markdown table; lessons without a notebook yet are marked *coming*."""
    rows = ["| # | notebook | what it teaches | seed § | datasets |",
            "|---|---|---|---|---|"]
    for s in SYLLABUS:
        name = f"[{s.title}]({link_prefix}{s.slug}.ipynb)" if s.available else f"{s.title} (coming)"
        data = ", ".join(f"`{d}`" for d in s.datasets) or "—"
        rows.append(f"| {s.number} | {name} | {s.teaches} | {s.seed_sections} | {data} |")
    return "\n".join(rows)


def show_source(obj: Callable[..., Any] | type) -> Any:
    """Render the source code of an ``mmlib`` function or class in a notebook.

    Notebooks explain an idea with math, then *show* the library's code with this function and use
    it, instead of pasting a second copy that could drift from the library.

    Args:
        obj: a function, method or class.

    Returns:
        An ``IPython.display.Code`` object (rendered with syntax highlighting by Jupyter).
    """
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise TypeError(f"obj must be a function, method or class, got {type(obj).__name__}.")
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


README_START, README_END = "<!-- syllabus:start -->", "<!-- syllabus:end -->"


def readme_syllabus_block(readme_text: str) -> str:
    """The syllabus table stored in the README between the two syllabus markers."""
    start, end = readme_text.find(README_START), readme_text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"readme_text must contain {README_START!r} followed by {README_END!r}.")
    return readme_text[start + len(README_START):end].strip()


def write_readme_syllabus(readme: Path = REPO_ROOT / "README.md") -> None:
    """Regenerate the README's syllabus table from :data:`SYLLABUS` (after adding a notebook)."""
    text = readme.read_text(encoding="utf-8")
    old = readme_syllabus_block(text)
    readme.write_text(text.replace(old, syllabus_markdown()), encoding="utf-8")
