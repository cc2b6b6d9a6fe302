"""Adversarial probes of ``shapes_captions``: does its data card's fusion lesson survive?

One file per dataset so that ``pytest-xdist`` (``--dist loadfile``) spreads the five probe runs
over the workers. The probe families and the targets are in ``tests/probes.py``; see
``tests/README.md``. Run alone:
``python -m pytest -q -n 0 tests/test_probes_shapes_captions.py -s``.
"""

from __future__ import annotations

import probes


def test_shapes_captions_needs_the_image_and_the_caption_does_not_leak():
    s, text = probes.run("shapes_captions")
    problems = probes.main_task_problems(s)
    q, qc, iq = (s["inputs"][k] for k in ("question", "question+caption", "image+question"))
    if abs(qc - q) > probes.CAPTION_LEAK:
        problems.append(f"question+caption {qc:.3f} is not within {probes.CAPTION_LEAK} of "
                        f"question alone {q:.3f}: the caption carries the answer")
    if qc > iq - probes.IMAGE_GAIN:
        problems.append(f"question+caption {qc:.3f} is not {probes.IMAGE_GAIN} below "
                        f"image+question {iq:.3f}")
    probes.check(problems, text)
