"""Adversarial probes of ``drive``: does its data card's fusion lesson survive?

One file per dataset so that ``pytest-xdist`` (``--dist loadfile``) spreads the five probe runs
over the workers. The probe families and the targets are in ``tests/probes.py``; see
``tests/README.md``. Run alone: ``python -m pytest -q -n 0 tests/test_probes_drive.py -s``.
"""

from __future__ import annotations

import probes


def test_drive_fusion_wins_in_every_condition_and_the_best_sensor_changes():
    s, text = probes.run("drive")
    problems = probes.main_task_problems(s)
    per = s["conditions"]
    for c, d in per.items():
        if d["fused"] <= d["best_single"]:
            problems.append(f"{c}: fused {d['fused']:.3f} does not beat the best single sensor "
                            f"{d['best_single']:.3f} ({d['modality']}, {d['family']})")
    best = {d["modality"] for d in per.values()}
    if len(best) < 2:
        problems.append(f"the best single sensor is {best.pop()} in every condition")
    probes.check(problems, text)
