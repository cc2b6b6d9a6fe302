"""Adversarial probes of ``av_digits``: does its data card's fusion lesson survive?

One file per dataset so that ``pytest-xdist`` (``--dist loadfile``) spreads the five probe runs
over the workers. The probe families and the targets are in ``tests/probes.py``; see
``tests/README.md``. Run alone: ``python -m pytest -q -n 0 tests/test_probes_av_digits.py -s``.
"""

from __future__ import annotations

import probes


def test_av_digits_needs_fusion():
    s, text = probes.run("av_digits")
    probes.check(probes.main_task_problems(s), text)
