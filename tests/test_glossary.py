"""The glossary (``docs/glossary.md``) holds every Chinese term the notebooks introduce, each with
the first notebook (in course order) that uses it."""

from __future__ import annotations

import re

import nbformat
import pytest

from mmlib.course import SYLLABUS
from mmlib.env import REPO_ROOT

GLOSSARY = REPO_ROOT / "docs" / "glossary.md"
CHINESE = re.compile(r"[\u4e00-\u9fff]+")


def glossary() -> dict[str, tuple[str, str]]:
    """Chinese term -> (English, notebook slug), from the table between the markers."""
    text = GLOSSARY.read_text(encoding="utf-8")
    body = text.split("<!-- glossary:rows -->", 1)[1].split("<!-- glossary:end -->", 1)[0]
    rows = {}
    for line in body.strip().splitlines()[2:]:  # after the header and its separator
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"glossary row must have 4 cells: {line}"
        english, chinese, _pinyin, notebook = cells
        assert chinese not in rows, f"{chinese} is listed twice"
        rows[chinese] = (english, notebook.strip("`"))
    return rows


def notebook_terms() -> dict[str, list[str]]:
    """Notebook slug (course order) -> the Chinese terms of its markdown, in order of use."""
    out = {}
    for lesson in SYLLABUS:
        if lesson.available:
            nb = nbformat.read(lesson.path, as_version=4)
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            out[lesson.slug] = list(dict.fromkeys(CHINESE.findall(text)))
    return out


def test_every_term_a_notebook_introduces_is_in_the_glossary_with_its_first_notebook():
    rows, first = glossary(), {}
    for slug, terms in notebook_terms().items():
        for term in terms:
            first.setdefault(term, slug)
    missing = sorted(t for t in first if t not in rows)
    assert not missing, f"add these notebook terms to docs/glossary.md: {missing}"
    wrong = {t: (rows[t][1], s) for t, s in first.items() if rows[t][1] != s}
    assert not wrong, f"glossary notebook differs from the first notebook using it: {wrong}"


def test_planned_terms_name_a_lesson_of_the_syllabus():
    slugs = {s.slug for s in SYLLABUS}
    used = {t for terms in notebook_terms().values() for t in terms}
    for term, (english, slug) in glossary().items():
        assert CHINESE.fullmatch(term), f"{term!r} is not a Chinese term"
        assert english and CHINESE.search(english) is None
        if term not in used:
            assert slug in slugs, f"{term}: {slug} is not a lesson of the syllabus"


@pytest.mark.parametrize("link", ["docs/glossary.md"])
def test_readme_links_the_glossary(link):
    assert f"({link})" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
