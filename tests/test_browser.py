"""The course in a real browser: JupyterLab, a fresh (untrusted) copy of 00_welcome, its widget.

What a learner sees after cloning: the stored course-map widget shows its static view (not a
Python repr); after *Run All Cells* the live drop-down appears and picking another notebook in it
changes the text below. Screenshots (before running, after running, after the change, and one at
a failure) are saved under the test's temp dir, in ``screenshots/``.
"""

from __future__ import annotations

import re
import shutil

import pytest
from browser import browser_or_skip, jupyter_lab

from mmlib.course import SYLLABUS
from mmlib.env import REPO_ROOT
from mmlib.widgets import RUN_TO_INTERACT

pytestmark = pytest.mark.browser

NOTEBOOK = "00_welcome.ipynb"
NEWS_QUESTION = "Would you like to get notified about official Jupyter news?"
RUN_ALL_TIMEOUT_MS = 240_000  # the notebook takes ~20 s alone; far longer on a busy 2-core box
KERNEL_STATUS = ".jp-StatusBar-TextItem[title^='Change kernel']"  # "Python 3 (ipykernel) | Idle"
ALL_RUN_JS = """(kernelStatus) => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
    const kernel = document.querySelector(kernelStatus);
    return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'))
        && kernel !== null && kernel.textContent.trim().endsWith('| Idle');
}"""


@pytest.fixture
def chromium():
    with browser_or_skip() as browser:  # first: without Chromium, skip before starting the server
        yield browser


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a fresh copy of the notebook (so it is untrusted); always stopped."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    with jupyter_lab(root, tmp_path / "jupyter") as server:
        yield server


def test_welcome_notebook_in_jupyterlab(chromium, lab, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    try:
        _check_welcome(page, lab, shots)
    except Exception:
        try:
            page.screenshot(path=shots / "failure.png")
        except Exception:  # a crashed page: keep the original error
            pass
        raise
    finally:
        page.close()


def _scroll_to_top(locator):
    """Scroll ``locator`` to the top of the notebook; repeat until the (windowed) layout settles."""
    last = None
    for _ in range(20):
        locator.evaluate("el => el.scrollIntoView({block: 'start'})")
        locator.page.wait_for_timeout(250)
        top = locator.evaluate("el => Math.round(el.getBoundingClientRect().top)")
        if top == last:
            return
        last = top


def _toasts(page) -> list[str]:
    return page.locator(".Toastify__toast").all_inner_texts()


def _screenshot(page, path):
    page.mouse.move(0, 0)  # no hover effects (output prompt overlays) in the picture
    page.wait_for_timeout(200)
    page.screenshot(path=path)


def _check_welcome(page, lab, shots):
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
    notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
    cell = notebook.locator(".jp-CodeCell").filter(has_text="mmlib.widgets.course_map()")
    output = cell.locator(".jp-OutputArea-output")
    kernel = page.locator(KERNEL_STATUS)
    cell.wait_for(state="attached")  # the notebook is loaded ...
    kernel.filter(has_text=re.compile(r"\| Idle$")).wait_for()  # ... and its kernel started
    trust = page.locator(".jp-StatusItem-trust")
    assert trust.get_attribute("title").startswith("Notebook not trusted"), "a fresh copy"

    # untrusted: the stored widget falls back to its static HTML view, never to a repr
    _scroll_to_top(cell)
    static = output.get_by_text(RUN_TO_INTERACT)
    assert static.is_visible(), "the stored widget's static view is not shown"
    assert output.locator(".jupyter-widgets").count() == 0, "an untrusted output drew a widget"
    text = notebook.text_content()
    for name in ("VBox(", "Dropdown(", "HTML(value="):
        assert name not in text, f"a widget repr ({name}...) is shown"
    assert page.get_by_text(NEWS_QUESTION).count() == 0, "the Jupyter news pop-up is shown"
    assert not _toasts(page), f"unexpected pop-ups: {_toasts(page)}"
    _screenshot(page, shots / "1_untrusted.png")

    # Run > Run All Cells, then wait until no cell is pending and the kernel is idle
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    notebook.locator(".jp-InputPrompt", has_text="[*]").first.wait_for(state="attached")
    page.wait_for_function(ALL_RUN_JS, arg=KERNEL_STATUS, timeout=RUN_ALL_TIMEOUT_MS,
                           polling=500)
    errors = notebook.locator("[data-mime-type='application/vnd.jupyter.stderr']").filter(
        has_text=re.compile(r"Traceback|Error"))
    assert errors.count() == 0, f"a cell failed:\n{errors.first.text_content()}"
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
    assert all(re.search(r"\[\d+\]", p) for p in prompts), f"cells not run: {prompts}"
    assert trust.get_attribute("title").startswith("Notebook trusted"), "outputs it made"

    # the live widget replaces the static view
    dropdown = output.locator(".widget-dropdown select")
    dropdown.wait_for(state="attached")
    _scroll_to_top(cell)
    assert dropdown.is_visible()
    html = output.locator(".widget-html-content")
    before = html.text_content()
    assert f"{SYLLABUS[0].slug}.ipynb" in before
    assert output.get_by_text(RUN_TO_INTERACT).count() == 0, "static view shown with the widget"
    assert not _toasts(page), f"unexpected pop-ups: {_toasts(page)}"
    _screenshot(page, shots / "2_after_run_all.png")

    # pick another notebook: the text below the drop-down follows
    other = SYLLABUS[2]
    dropdown.select_option(index=2)
    page.wait_for_function(
        "([el, slug]) => el.textContent.includes(slug)",
        arg=[html.element_handle(), f"{other.slug}.ipynb"], polling=200, timeout=30_000)
    after = html.text_content()
    assert after != before and other.teaches in after
    _screenshot(page, shots / "3_after_change.png")
