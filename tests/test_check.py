"""Exercise checks: pass quietly with a tick, fail with a hint that names the exercise."""

from __future__ import annotations

import numpy as np
import pytest

from mmlib import check


def test_passing_checks_print_a_tick(capsys):
    check.close("ex", [1.0, 2.0], np.array([1.0, 2.0 + 1e-9]))
    check.shape("ex", np.zeros((2, 3)), (None, 3))
    check.equal("ex", 3, 3)
    check.equal("ex", [1, 2], np.array([1, 2]))
    check.true("ex", 1 < 2, "never shown")
    assert capsys.readouterr().out.count("✔ ex: passed") == 5


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check.close("ex1", [1.0, 2.0], [1.0, 2.5]), r"ex1: values differ.*0\.5"),
        (lambda: check.close("ex1", [1.0], [1.0, 2.0]), r"ex1: expected shape \(2,\)"),
        (lambda: check.shape("ex2", np.zeros((2, 4)), (2, 3)), r"ex2: expected shape \(2, 3\)"),
        (lambda: check.equal("ex3", 4, 3), r"ex3: 4 is not the expected value\.$"),
        (lambda: check.equal("ex3", "4", 3), "ex3: expected a value of type int, got type str"),
        (lambda: check.equal("ex3", [1, 2, 4], [1, 2, 3]), "ex3: 1 of 3 value.*differ"),
        (lambda: check.equal("ex3", [1, 2], [1, 2, 3]), r"ex3: expected 3 value.*\(3,\).*\(2,\)"),
        (lambda: check.equal("ex3", None, 3), r"ex3: got None\. Did you forget `return`"),
        (lambda: check.close("ex4", None, [1.0]), r"ex4: got None\. Did you forget `return`"),
        (lambda: check.shape("ex4", None, (1,)), "Did you forget `return`"),
        (lambda: check.equal("ex3", ..., 3), "placeholder"),
        (lambda: check.close("ex4", ..., 3), "placeholder"),
        (lambda: check.true("ex5", False, "look at the bias"), "ex5: look at the bias"),
    ],
)
def test_failing_checks_explain(call, message):
    with pytest.raises(check.ExerciseFailed, match=message):
        call()


def test_equal_never_shows_the_expected_answer():
    for got, expected in [(4, 37), ("cat", "dog"), ([5, 6], [7, 8])]:
        with pytest.raises(check.ExerciseFailed) as err:
            check.equal("ex", got, expected)
        assert repr(expected) not in str(err.value) and str(expected) not in str(err.value)


def test_exercise_failed_is_an_assertion_error():
    assert issubclass(check.ExerciseFailed, AssertionError)


# --- 01 multimodal data ----------------------------------------------------------------------


# --- 02 preprocessing pipelines --------------------------------------------------------------


# --- 03 feature extraction -------------------------------------------------------------------
