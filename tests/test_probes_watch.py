"""Adversarial probes of ``watch``: does its data card's fusion lesson survive?

One file per dataset so that ``pytest-xdist`` (``--dist loadfile``) spreads the five probe runs
over the workers. The probe families and the targets are in ``tests/probes.py``; see
``tests/README.md``. Run alone: ``python -m pytest -q -n 0 tests/test_probes_watch.py -s``.
"""

from __future__ import annotations

import probes


def test_watch_needs_fusion_and_anomalies_are_detectable_but_not_trivial():
    s, text = probes.run("watch")
    problems = probes.main_task_problems(s)
    lo, hi = probes.AUROC_RANGE
    auc = s["anomaly_auroc"]
    if not lo <= auc <= hi:
        problems.append(f"anomaly AUROC from normal clips {auc:.3f} ({s['anomaly_detector']}) "
                        f"is outside [{lo}, {hi}]")
    probes.check(problems, text)
