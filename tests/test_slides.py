"""The offline slide decks (mmlib.slides, ``mmcourse slides``).

The committed decks in ``slides/`` must be what the notebooks build today, must not reference
anything on the network, and must render in a real browser from disk with zero requests leaving
the machine (the ``browser`` test, Chromium via Playwright).
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from mmlib import slides
from mmlib.cli import main as cli_main
from mmlib.env import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DECKS = sorted(slides.SLIDES_DIR.glob("[0-9][0-9]_*.slides.html"))
REBUILD = "rebuild them with `mmcourse slides` and commit slides/"


# ------------------------------------------------------------------- committed decks, no network

def test_committed_decks_are_up_to_date_with_the_notebooks():
    """One deck per notebook, each built from the notebook as it is now (cheap: every deck stores
    the fingerprint of its notebook, template and builder; see the rebuild test below)."""
    assert NOTEBOOKS, "no notebooks found"
    assert [d.name for d in DECKS] == [slides.deck_name(nb) for nb in NOTEBOOKS], (
        f"slides/ must hold one deck per notebook; {REBUILD}")
    stale = [deck.name for deck, nb in zip(DECKS, NOTEBOOKS, strict=True)
             if slides.stored_fingerprint(deck) != slides.source_fingerprint(nb)]
    assert not stale, f"decks out of date with their notebooks: {stale}; {REBUILD}"


def test_rebuilding_a_deck_gives_the_committed_bytes(tmp_path):
    """The build is reproducible: rebuilding a committed deck (and the shared stylesheet) into a
    temp folder gives identical bytes -- nothing depends on time, machine or hash seed."""
    built = slides.build_deck(NOTEBOOKS[0], tmp_path)
    assert built.read_bytes() == (slides.SLIDES_DIR / built.name).read_bytes(), (
        f"{built.name} differs from a fresh build; {REBUILD}")
    for shared in (slides.STYLESHEET, slides.SCRIPT):
        assert (tmp_path / shared).read_bytes() == (slides.SLIDES_DIR / shared).read_bytes(), (
            f"slides/{shared} is out of date; {REBUILD}")
    assert slides.stored_fingerprint(built) == slides.source_fingerprint(NOTEBOOKS[0])


class _Refs(html.parser.HTMLParser):
    """Every (tag, attribute, value) whose attribute names a URL (independent of mmlib.slides)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._style = False

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "href", "srcset", "data", "poster", "xlink:href") and value:
                self.refs.append((tag, key, value))
            if key == "style" and value:
                self.styles.append(value)
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.styles.append(data)


REMOTE = re.compile(r"^\s*(https?:)?//", re.I)


@pytest.mark.parametrize("deck", DECKS, ids=[d.name for d in DECKS])
def test_deck_has_no_network_references(deck):
    """No src/href/srcset/CSS url() points off the machine; every local reference exists.

    Hyperlinks (``<a href>``) may point at papers: a reader clicking one is not the deck loading
    something. Everything else is loaded by the browser and must be a file next to the deck.
    """
    parser = _Refs()
    parser.feed(deck.read_text(encoding="utf-8"))
    remote = [ref for ref in parser.refs if REMOTE.match(ref[2]) and ref[0] != "a"]
    assert not remote, f"{deck.name} loads from the network: {remote[:5]}"
    css = "\n".join(parser.styles) + (slides.SLIDES_DIR / slides.STYLESHEET).read_text()
    css_urls = re.findall(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", css)
    assert not [u for u in css_urls if REMOTE.match(u)], f"{deck.name}: remote CSS url()/@import"
    local = {value.split("#")[0].split("?")[0] for tag, key, value in parser.refs
             if tag != "a" and not value.startswith(("data:", "#"))}
    assert local == {slides.STYLESHEET, slides.SCRIPT, "vendor/reveal.js/reveal.css",
                     "vendor/reveal.js/theme/white.css", "vendor/reveal.js/reveal.js",
                     "vendor/reveal.js/plugin/notes.js", "vendor/mathjax/tex-svg-full.js"}, local
    assert all((slides.SLIDES_DIR / path).is_file() for path in local)
    assert slides.remote_references(deck.read_text(encoding="utf-8")) == []


def test_remote_references_finds_what_a_browser_would_fetch():
    page = """<link rel="stylesheet" href="https://cdn.example/x.css">
    <script src="//cdn.example/require.js"></script><img src="data:image/png;base64,AA==">
    <img srcset="a.png 1x, http://cdn.example/b.png 2x"><a href="https://doi.org/10.1/x">paper</a>
    <div style="background: url('https://cdn.example/bg.png')"></div>
    <style>@import "https://fonts.example/css"; .x { background: url(local.png) }</style>
    <script src="vendor/reveal.js/reveal.js"></script><img src="file:///tmp/x.png">"""
    assert slides.remote_references(page) == [
        "https://cdn.example/x.css", "//cdn.example/require.js", "http://cdn.example/b.png",
        "https://cdn.example/bg.png", "https://fonts.example/css"]
    with pytest.raises(TypeError, match="page must be HTML text"):
        slides.remote_references(b"<img>")


# ------------------------------------------------------------------------ what goes into a deck

def _notebook(tmp_path: Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    return path


def _md(text: str, slide_type: str | None = None):
    cell = nbformat.v4.new_markdown_cell(text)
    if slide_type:
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


def test_deck_notebook_shows_widget_snapshots_and_student_stubs():
    widget_out = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "1", "version_major": 2},
        "text/html": "<p>Static view</p>", "text/plain": "Widget (run the cell)"})
    answer = nbformat.v4.new_code_cell("n_params = 42", metadata={"tags": ["solution"]})
    nb = nbformat.v4.new_notebook(cells=[
        _md("# 07 · A *demo* deck\n\ntext", "slide"),
        nbformat.v4.new_code_cell("w", outputs=[widget_out]),
        _md("**Exercise 1.** Count."), answer])
    nb.metadata["widgets"] = {"state": {}}
    deck = slides.deck_notebook(nb)
    data = deck.cells[1].outputs[0]["data"]
    assert set(data) == {"text/html", "text/plain"}
    assert deck.cells[3].source == "n_params = ...  # your code here"
    assert "widgets" not in deck.metadata and deck.metadata["title"] == "07 · A demo deck"
    assert nb.cells[3].source == "n_params = 42"  # the notebook itself is untouched
    with pytest.raises(TypeError, match="nb must be a notebook"):
        slides.deck_notebook({"cells": []})


def test_slide_count_counts_slides_subslides_and_an_untagged_start():
    nb = nbformat.v4.new_notebook(cells=[_md("# t", "slide"), _md("a"), _md("b", "subslide"),
                                         _md("n", "notes"), _md("c", "slide"),
                                         _md("f", "fragment")])
    assert slides.slide_count(nb) == 3
    nb.cells.insert(0, _md("untagged start"))
    assert slides.slide_count(nb) == 4
    nb.cells.insert(0, _md("skipped", "skip"))
    assert slides.slide_count(nb) == 4


def test_build_deck_writes_an_offline_deck_and_refuses_remote_images(tmp_path):
    path = _notebook(tmp_path, [_md("# 07 · Demo\n\n$a^2 + b^2$", "slide"),
                                _md("see [00](00_welcome.ipynb)", "slide"),
                                _md("## Notes", "notes")])
    deck = slides.build_deck(path, tmp_path / "out")
    page = deck.read_text(encoding="utf-8")
    assert deck.name == "07_demo.slides.html" and (tmp_path / "out" / slides.STYLESHEET).is_file()
    script = (tmp_path / "out" / slides.SCRIPT).read_text(encoding="utf-8")
    assert "Reveal.initialize" in script and "mmDeckSettings" in page
    assert not re.search(r"(https?:)?//[a-z]", script.replace("/* ", "")), "deck.js loads nothing"
    assert page.count("<section") == 4  # two slides, each a <section> holding a vertical one
    assert page.count('<aside class="notes">') == 1
    assert 'href="00_welcome.slides.html"' in page and "$a^2 + b^2$" in page
    assert "<title>07 · Demo</title>" in page and slides.remote_references(page) == []
    assert slides.build_deck(path, tmp_path / "out").read_bytes() == page.encode()
    bad = _notebook(tmp_path, [_md("# x\n\n![logo](https://example.org/logo.png)", "slide")])
    with pytest.raises(ValueError, match="network reference.*example.org/logo.png"):
        slides.build_deck(bad, tmp_path / "out")


def test_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="notebook must be a path.*got 3 of type int"):
        slides.build_deck(3)
    with pytest.raises(ValueError, match="notebook must be an existing .ipynb file, got 'x.txt'"):
        slides.build_deck("x.txt")
    with pytest.raises(TypeError, match="out_dir must be a path"):
        slides.build_deck(NOTEBOOKS[0], out_dir=None)
    with pytest.raises(TypeError, match="notebooks must be a list of .ipynb paths, got str"):
        slides.build_all("notebooks/00_welcome.ipynb")
    with pytest.raises(ValueError, match="notebooks must name at least one notebook"):
        slides.build_all([], tmp_path)
    with pytest.raises(TypeError, match="install must be a bool"):
        slides.vendor(tmp_path, install="yes")


def test_cli_slides_reports_a_bad_notebook(capsys):
    assert cli_main(["slides", "no_such.ipynb"]) == 1
    err = capsys.readouterr().err
    assert "mmcourse slides: notebooks must be an existing .ipynb file, got 'no_such.ipynb'" in err


# ------------------------------------------------------------------------------ the vendor step

def test_vendored_files_are_the_pinned_npm_files():
    """package.json pins exact versions, the lock agrees, vendor/ holds exactly the listed files
    (a few MB), and they are byte-identical to node_modules/ when that is installed."""
    package = json.loads((slides.SLIDES_DIR / "package.json").read_text())
    pinned = slides.pinned_versions()
    assert package["dependencies"] == pinned and set(pinned) == set(slides.VENDOR_FILES)
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in pinned.values()), pinned
    vendor = slides.SLIDES_DIR / slides.VENDOR
    files = {p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.is_file()}
    listed = {f"{pkg}/{dest}" for pkg, pairs in slides.VENDOR_FILES.items() for _, dest in pairs}
    assert files == listed | {"README.md"} and slides.missing_vendor_files() == []
    assert sum((vendor / f).stat().st_size for f in files) < 4e6
    readme = (vendor / "README.md").read_text()
    assert all(f"| {version} |" in readme for version in pinned.values())
    node_modules = slides.SLIDES_DIR / "node_modules"
    if node_modules.is_dir():
        for pkg, pairs in slides.VENDOR_FILES.items():
            for source, dest in pairs:
                assert (node_modules / pkg / source).read_bytes() == (
                    vendor / pkg / dest).read_bytes(), f"vendor/{pkg}/{dest} differs; run " \
                    "mmcourse slides --vendor"


def test_vendor_copies_only_the_listed_files(tmp_path):
    """vendor() on a fake node_modules (no npm, no network): listed files + README, nothing else."""
    lock = {"packages": {f"node_modules/{pkg}": {"version": "1.2.3"}
                         for pkg in slides.VENDOR_FILES}}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    for pkg, pairs in slides.VENDOR_FILES.items():
        root = tmp_path / "node_modules" / pkg
        root.mkdir(parents=True)
        (root / "package.json").write_text(json.dumps({"version": "1.2.3"}))
        (root / "unused.js").write_text("not vendored")
        for source, _ in pairs:
            (root / source).parent.mkdir(parents=True, exist_ok=True)
            (root / source).write_text(f"{pkg}:{source}")
    (tmp_path / "vendor" / "stale").mkdir(parents=True)
    written = slides.vendor(tmp_path, install=False)
    got = sorted(p.relative_to(tmp_path / "vendor").as_posix() for p in
                 (tmp_path / "vendor").rglob("*") if p.is_file())
    assert got == sorted(p.relative_to(tmp_path / "vendor").as_posix() for p in written)
    assert "reveal.js/reveal.js" in got and "unused.js" not in " ".join(got)
    assert (tmp_path / "vendor/reveal.js/reveal.js").read_text() == "reveal.js:dist/reveal.js"
    assert "| 1.2.3 |" in (tmp_path / "vendor/README.md").read_text()
    shutil.rmtree(tmp_path / "node_modules" / "mathjax")
    with pytest.raises(RuntimeError, match="node_modules must hold the locked versions"):
        slides.vendor(tmp_path, install=False)


# --------------------------------------------------------------------------- in a real browser

_READY = ("document.body.getAttribute('data-mathjax') === 'typeset' "
          "&& window.Reveal !== undefined && Reveal.isReady()")


@pytest.mark.browser
def test_two_decks_render_from_disk_with_zero_network_requests(tmp_path):
    """Open two committed decks as file:// in Chromium: every request stays on disk, the slide
    count is the notebook's, MathJax typesets without errors, no slide is wider than the screen,
    figures load, and the speaker view (S) opens offline too. Screenshots in tmp_path."""
    from browser import browser_or_skip, record_requests

    assert len(DECKS) >= 2, "need two committed decks"
    with browser_or_skip() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        requests = record_requests(context)
        problems: list[str] = []
        for deck in DECKS[:2]:
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                    if msg.type == "error" else None)
            page.goto(deck.as_uri())
            page.wait_for_function(_READY, timeout=60_000)
            page.evaluate("Reveal.configure({transition: 'none'})")
            notebook = REPO_ROOT / "notebooks" / deck.name.replace(".slides.html", ".ipynb")
            expected = slides.slide_count(nbformat.read(notebook, as_version=4))
            assert page.evaluate("Reveal.getTotalSlides()") == expected, deck.name
            math = page.evaluate("document.querySelectorAll('mjx-container svg').length")
            assert math > 0, f"{deck.name}: no equation typeset by MathJax"
            assert page.evaluate("document.querySelectorAll('mjx-merror').length") == 0
            page.screenshot(path=tmp_path / f"{deck.stem}-first.png")
            sections = page.evaluate(
                "document.querySelectorAll('.reveal .slides > section').length")
            for i in range(sections):
                page.evaluate(f"Reveal.slide({i})")
                layout = page.evaluate("""() => { const s = Reveal.getCurrentSlide();
                  const imgs = [...s.querySelectorAll('img')];
                  return {wide: s.scrollWidth - s.clientWidth,
                          broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,
                          math: s.querySelectorAll('mjx-container').length}; }""")
                assert layout["wide"] <= 1, f"{deck.name} slide {i + 1} overflows sideways"
                assert layout["broken"] == 0, f"{deck.name} slide {i + 1}: image not loaded"
                if layout["math"] and not (tmp_path / f"{deck.stem}-math.png").exists():
                    page.screenshot(path=tmp_path / f"{deck.stem}-math.png")
            assert (tmp_path / f"{deck.stem}-math.png").exists()
            if deck == DECKS[0]:
                page.evaluate("Reveal.slide(0)")
                with page.expect_popup() as popup:
                    page.keyboard.press("s")
                speaker = popup.value
                speaker.wait_for_function("document.querySelectorAll('iframe').length >= 2")
                speaker.wait_for_timeout(1500)
                speaker.screenshot(path=tmp_path / "speaker-view.png")
            page.close()
        context.close()
    assert requests, "no request recorded"
    leaving = [url for url in requests if not url.startswith("file://")]
    assert not leaving, f"{len(leaving)} request(s) left the machine: {leaving[:5]}"
    assert not problems, problems
