"""Offline reveal.js slide decks built from the notebooks (``mmcourse slides``).

Every notebook doubles as a deck: its cells carry ``slideshow.slide_type`` metadata (``slide``,
``subslide``, ``fragment``, ``skip``, ``notes``). :func:`build_deck` turns one notebook into
``slides/NN_slug.slides.html`` with nbconvert's ``SlidesExporter`` and the course's template
``slides/template/mmcourse-reveal`` (nbconvert's reveal template with a head and footer that load
only local files), and :func:`build_all` builds every notebook of ``notebooks/``.

Offline by construction:

* reveal.js and MathJax are pinned npm packages (``slides/package.json`` and
  ``package-lock.json``); :func:`vendor` (``mmcourse slides --vendor``) runs ``npm ci`` and copies
  only the files the decks load (:data:`VENDOR_FILES`, with their LICENSE files) into
  ``slides/vendor/``, which is committed, so a deck opens from disk with no build and no network;
* a deck references ``vendor/...``, ``notebook.css`` and ``deck.js`` by relative path and
  nothing else: no
  require.js, jQuery, font-awesome, mermaid or widget manager from a CDN.
  :func:`remote_references` lists what a deck would fetch from the network, and
  :func:`build_deck` refuses to write a deck that would;
* a stored widget output shows its static ``text/html`` snapshot
  (:class:`mmlib.widgets.WithStaticView`): the live widget view needs a kernel anyway.

A deck shows the notebook as a student receives it: exercise answers (cells tagged
``solution``) become the stubs of :func:`mmlib.classroom.student_notebook`. The build is
reproducible: the same notebook gives the same bytes (nothing depends on time or machine), and
each deck carries the :func:`source_fingerprint` of what it was built from, so a test can tell a
stale deck cheaply.
"""

from __future__ import annotations

import functools
import hashlib
import html.parser
import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmlib.env import REPO_ROOT

SLIDES_DIR = REPO_ROOT / "slides"
"""Where the decks, the pinned npm packages, the vendored files and the template live."""

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
TEMPLATE_DIR = SLIDES_DIR / "template"
TEMPLATE_NAME = "mmcourse-reveal"
VENDOR = "vendor"
"""Folder next to the decks holding reveal.js and MathJax (decks reference it relatively)."""

STYLESHEET = "notebook.css"
"""The notebook CSS every deck links (written next to the decks by :func:`build_deck`)."""

SCRIPT = "deck.js"
"""The behaviour every deck loads (MathJax settings, scrolling slides), copied next to the decks
from the template by :func:`build_deck`; a deck itself only defines its settings inline."""

_STYLESHEET_PARTS = ("static/index.css", "static/theme-light.css", "deck.css")

REVEAL_THEME = "white"
MATHJAX_COMPONENT = "tex-svg-full.js"
"""MathJax 3 component: TeX input with every extension, SVG output (no font files to load)."""

WIDTH, HEIGHT = 1280, 720
"""Logical slide size in pixels (16:9, like most projectors); reveal.js scales it to the screen."""

VENDOR_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "reveal.js": (("LICENSE", "LICENSE"),
                  ("dist/reveal.js", "reveal.js"),
                  ("dist/reveal.css", "reveal.css"),
                  (f"dist/theme/{REVEAL_THEME}.css", f"theme/{REVEAL_THEME}.css"),
                  ("dist/plugin/notes.js", "plugin/notes.js")),
    "mathjax": (("LICENSE", "LICENSE"),
                (f"es5/{MATHJAX_COMPONENT}", MATHJAX_COMPONENT)),
}
"""npm package -> ``(file in node_modules/<package>, file in vendor/<package>)`` pairs."""

_ABOUT = {
    "reveal.js": ("reveal.js", "https://revealjs.com", "MIT",
                  "the slide engine, its CSS, the white theme (fonts inlined) and the "
                  "speaker-notes plugin (S)"),
    "mathjax": ("MathJax", "https://www.mathjax.org", "Apache-2.0",
                "the TeX-to-SVG component that typesets the notebooks' $...$ and $$...$$"),
}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.I)
_NOTEBOOK_LINK = re.compile(
    r'href="(?:(?:\.\./)?notebooks/)?([0-9]{2}_[A-Za-z0-9_-]+)\.ipynb(#[^"]*)?"')
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_SCRIPTED = (_WIDGET_VIEW, "application/javascript")


# ------------------------------------------------------------------------------------ the checks

def _check_path(name: str, value: Any) -> Path:
    if not isinstance(value, str | Path):
        raise TypeError(f"{name} must be a path (str or pathlib.Path), got {value!r} of type "
                        f"{type(value).__name__}.")
    return Path(value)


def _check_notebook(name: str, value: Any) -> Path:
    path = _check_path(name, value)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"{name} must be an existing .ipynb file, got {str(path)!r}.")
    return path


class _Resources(html.parser.HTMLParser):
    """Collects every URL an HTML page makes the browser load (not the links a reader clicks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for key in ("src", "data", "poster", "background", "action", "formaction"):
            if key in values:
                self.urls.append(values[key])
        if "srcset" in values:
            self.urls += [part.split()[0] for part in values["srcset"].split(",") if part.split()]
        if tag == "link" and "href" in values:
            self.urls.append(values["href"])
        if tag in ("image", "use") and ("href" in values or "xlink:href" in values):
            self.urls.append(values.get("href") or values["xlink:href"])
        self.urls += _CSS_URL.findall(values.get("style", ""))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += _CSS_URL.findall(data)


def resource_urls(page: str) -> list[str]:
    """Every URL the HTML ``page`` makes a browser load, in document order.

    ``src``/``srcset``/``data``/``poster`` attributes, ``<link href>``, SVG ``<image>``/``<use>``
    references and CSS ``url(...)`` / ``@import`` in ``<style>`` blocks and ``style`` attributes.
    Hyperlinks (``<a href>``) are not resources: nothing is fetched unless a reader clicks one.
    """
    if not isinstance(page, str):
        raise TypeError(f"page must be HTML text (str), got {type(page).__name__}.")
    parser = _Resources()
    parser.feed(page)
    parser.close()
    return parser.urls


def remote_references(page: str) -> list[str]:
    """The URLs among :func:`resource_urls` that leave the machine (``http(s)://``, ``//host``).

    A deck must have none: it is presented from disk, possibly without a network.
    """
    return [url for url in resource_urls(page)
            if _REMOTE.match(url) and not url.lower().lstrip().startswith("file:")]


# ------------------------------------------------------------------------------------- the decks

def deck_name(notebook: str | Path) -> str:
    """File name of the deck of ``notebook``: ``notebooks/01_x.ipynb`` -> ``01_x.slides.html``."""
    return f"{_check_path('notebook', notebook).stem}.slides.html"


def slide_count(nb: Any) -> int:
    """How many slides the deck of the notebook ``nb`` (nbformat v4) has.

    One per cell whose ``slideshow.slide_type`` is ``slide`` or ``subslide``, plus one when the
    first visible cell (not ``skip`` / ``notes``) has neither: nbconvert starts the deck there.
    """
    cells = getattr(nb, "cells", None)
    if not isinstance(cells, list):
        raise TypeError(f"nb must be a notebook (nbformat NotebookNode with .cells), got "
                        f"{type(nb).__name__}.")

    def kind(cell: Any) -> str:
        return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")

    count = sum(kind(c) in ("slide", "subslide") for c in cells)
    first = next((c for c in cells if kind(c) not in ("skip", "notes")), None)
    return count + (first is not None and kind(first) not in ("slide", "subslide"))


def deck_notebook(nb: Any) -> Any:
    """The copy of the notebook ``nb`` that becomes the deck.

    Exercise answers become student stubs (:func:`mmlib.classroom.student_notebook`); widget
    outputs keep their static ``text/html`` snapshot and lose the live view and any JavaScript
    (nothing to run them from disk); the saved widget state goes; ``metadata.title`` is the first
    heading of the first cell (the deck's ``<title>``).
    """
    from mmlib.classroom import student_notebook

    if not isinstance(getattr(nb, "cells", None), list):
        raise TypeError(f"nb must be a notebook (nbformat NotebookNode with .cells), got "
                        f"{type(nb).__name__}.")
    deck = student_notebook(nb)
    deck.metadata.pop("widgets", None)
    for cell in deck.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and any(mime in data for mime in _SCRIPTED):
                for mime in _SCRIPTED:
                    data.pop(mime, None)
                if not data:
                    data["text/plain"] = "(interactive output: run the notebook to see it)"
    title = _title(deck)
    if title:
        deck.metadata["title"] = title
    return deck


def _title(nb: Any) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return re.sub(r"[*_`]", "", match.group(1)).strip()
    return ""


def source_fingerprint(notebook: str | Path) -> str:
    """``sha256:...`` of everything a deck is built from, stored in the deck's ``<head>``.

    The notebook's bytes, the builder (this module and :mod:`mmlib.classroom`, which writes the
    exercise stubs), the template files and the nbconvert / Pygments / mistune versions: a deck
    whose stored fingerprint differs from this is out of date (``mmcourse slides`` rebuilds it).
    The jupyterlab_pygments version counts too: its style colours the code (``notebook.css``).
    """
    from importlib import metadata

    from mmlib import classroom

    path = _check_notebook("notebook", notebook)
    digest = hashlib.sha256()
    sources = [path, Path(__file__), Path(classroom.__file__),
               *sorted(p for p in (TEMPLATE_DIR / TEMPLATE_NAME).rglob("*") if p.is_file())]
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    for dist in ("nbconvert", "pygments", "mistune", "jupyterlab_pygments"):
        digest.update(f"{dist}=={metadata.version(dist)}\0".encode())
    return f"sha256:{digest.hexdigest()}"


def stored_fingerprint(deck: str | Path) -> str | None:
    """The source fingerprint a built deck carries (None when it has none)."""
    path = _check_path("deck", deck)
    head = path.read_text(encoding="utf-8")[:4000]
    tag = re.search(r'<meta [^>]*name="mmcourse-source"[^>]*>', head)
    found = re.search(r'content="(sha256:[0-9a-f]{64})"', tag.group(0)) if tag else None
    return found.group(1) if found else None


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert.exporters import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.update({
        "template_name": TEMPLATE_NAME,
        "extra_template_basedirs": [str(TEMPLATE_DIR)],
        "exclude_input_prompt": True,
        "exclude_output_prompt": True,
        "reveal_url_prefix": f"{VENDOR}/reveal.js",
        "reveal_theme": REVEAL_THEME,
        "reveal_transition": "slide",
        "reveal_number": "c/t",
        "reveal_width": str(WIDTH),
        "reveal_height": str(HEIGHT),
        "mathjax_url": f"{VENDOR}/mathjax/{MATHJAX_COMPONENT}",
        # the template loads none of these; empty so that nothing could point at a CDN
        "require_js_url": "",
        "jquery_url": "",
        "font_awesome_url": "",
        "jupyter_widgets_base_url": "",
        "widget_renderer_url": "",
    })
    # its Pygments CSS goes into the shared notebook.css instead (see stylesheet); it would also
    # inline a user's ~/.jupyter/custom/custom.css, making a deck depend on the machine
    config.CSSHTMLHeaderPreprocessor.enabled = False
    return SlidesExporter(config=config)


def render_deck(notebook: str | Path) -> str:
    """The HTML of the deck of ``notebook`` (an ``.ipynb`` path), without writing it.

    A link to another notebook (``01_x.ipynb``, as in the course map) becomes a link to its
    deck (``01_x.slides.html``), which sits next to this one.

    Raises:
        ValueError: ``notebook`` is not an existing ``.ipynb`` file, or the deck would load
            something from the network (a remote image in a markdown cell, say).
    """
    import nbformat

    path = _check_notebook("notebook", notebook)
    nb = deck_notebook(nbformat.read(path, as_version=4))
    page, _ = _exporter().from_notebook_node(
        nb, resources={"metadata": {"name": path.stem, "path": str(path.parent)},
                       "mmcourse_stylesheet": STYLESHEET, "mmcourse_script": SCRIPT,
                       "mmcourse_source": source_fingerprint(path)})
    page = "\n".join(line.rstrip() for line in page.splitlines()) + "\n"
    page = _NOTEBOOK_LINK.sub(lambda m: f'href="{m.group(1)}.slides.html"', page)
    remote = remote_references(page)
    if remote:
        raise ValueError(f"notebook {path.name} must only reference local files in its deck, got "
                         f"{len(remote)} network reference(s): {remote[:5]}.")
    return page


def stylesheet() -> str:
    """The text of ``slides/notebook.css``, the notebook CSS all decks share.

    The code highlighting colours (Pygments with JupyterLab's style), JupyterLab's notebook
    styles as nbconvert's ``lab`` template ships them (cells, outputs, tables), then the
    course's ``deck.css`` (type sizes for a projector, scrolling slides, figure widths). One
    shared file instead of ~250 kB inlined in every deck.
    """
    from jupyterlab_pygments import JupyterStyle
    from pygments.formatters import HtmlFormatter

    env = _exporter().environment
    parts = [f"/* ---- {name} (nbconvert template '{TEMPLATE_NAME}') ---- */\n"
             + env.loader.get_source(env, name)[0].strip() + "\n" for name in _STYLESHEET_PARTS]
    parts.insert(0, "/* ---- code highlighting (Pygments, JupyterLab's colours) ---- */\n"
                 + HtmlFormatter(style=JupyterStyle).get_style_defs(".highlight").strip() + "\n")
    header = ("/* Generated by mmcourse slides (mmlib.slides.stylesheet): do not edit; change\n"
              "   slides/template/mmcourse-reveal/deck.css and rebuild. */\n")
    css = header + "\n".join(parts)
    remote = remote_references(f"<style>{css}</style>")
    if remote:  # a template change must not make every deck fetch from the network
        raise ValueError(f"the deck stylesheet must only reference local files, got {remote[:5]}.")
    return css


def script() -> str:
    """The text of ``slides/deck.js``: the template's ``deck.js``, the behaviour all decks share."""
    env = _exporter().environment
    return env.loader.get_source(env, SCRIPT)[0]


def _write_if_changed(target: Path, data: bytes) -> None:
    if not target.is_file() or target.read_bytes() != data:
        target.write_bytes(data)


def build_deck(notebook: str | Path, out_dir: str | Path = SLIDES_DIR) -> Path:
    """Build the deck of ``notebook`` into ``out_dir`` (default ``slides/``); return its path.

    The deck is ``out_dir/NN_slug.slides.html``; it links ``out_dir/notebook.css`` and
    ``out_dir/deck.js`` (written too, see :func:`stylesheet` and :func:`script`) and loads
    reveal.js and MathJax from ``out_dir/vendor/`` (see :func:`vendor`), so open it from
    ``slides/`` or copy ``vendor/`` along with it. Files are only rewritten when their bytes
    change.
    """
    path = _check_notebook("notebook", notebook)
    out = _check_path("out_dir", out_dir)
    page = render_deck(path).encode("utf-8")
    out.mkdir(parents=True, exist_ok=True)
    _write_if_changed(out / STYLESHEET, stylesheet().encode("utf-8"))
    _write_if_changed(out / SCRIPT, script().encode("utf-8"))
    target = out / deck_name(path)
    _write_if_changed(target, page)
    return target


def build_all(notebooks: Sequence[str | Path] | None = None,
              out_dir: str | Path = SLIDES_DIR) -> list[Path]:
    """Build the decks of ``notebooks`` (default: every ``notebooks/NN_*.ipynb``) into ``out_dir``.

    With the default list, decks in ``out_dir`` whose notebook is gone are deleted, so
    ``slides/`` always holds exactly one deck per notebook. Returns the decks' paths.
    """
    out = _check_path("out_dir", out_dir)
    if notebooks is None:
        files = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
        if out.is_dir():
            wanted = {deck_name(f) for f in files}
            for old in out.glob("[0-9][0-9]_*.slides.html"):
                if old.name not in wanted:
                    old.unlink()
    else:
        if isinstance(notebooks, str | Path) or not isinstance(notebooks, Sequence):
            raise TypeError(f"notebooks must be a list of .ipynb paths, got "
                            f"{type(notebooks).__name__}.")
        files = [_check_notebook("notebooks", f) for f in notebooks]
    if not files:
        raise ValueError(f"notebooks must name at least one notebook, got none (looked in "
                         f"{NOTEBOOKS_DIR}).")
    return [build_deck(f, out) for f in files]


def missing_vendor_files(slides_dir: str | Path = SLIDES_DIR) -> list[Path]:
    """The files of :data:`VENDOR_FILES` absent from ``slides_dir/vendor`` (empty when complete)."""
    base = _check_path("slides_dir", slides_dir) / VENDOR
    return [base / pkg / dest for pkg, pairs in VENDOR_FILES.items() for _, dest in pairs
            if not (base / pkg / dest).is_file()]


# ------------------------------------------------------------------------------------ the vendor

def pinned_versions(slides_dir: str | Path = SLIDES_DIR) -> dict[str, str]:
    """Package -> exact version, as locked in ``slides_dir/package-lock.json``."""
    lock_file = _check_path("slides_dir", slides_dir) / "package-lock.json"
    if not lock_file.is_file():
        raise ValueError(f"slides_dir must hold package-lock.json, got {str(lock_file)!r} missing.")
    packages = json.loads(lock_file.read_text(encoding="utf-8")).get("packages", {})
    return {name: packages[f"node_modules/{name}"]["version"] for name in VENDOR_FILES
            if f"node_modules/{name}" in packages}


def _installed_versions(node_modules: Path) -> dict[str, str]:
    found = {}
    for name in VENDOR_FILES:
        meta = node_modules / name / "package.json"
        if meta.is_file():
            found[name] = json.loads(meta.read_text(encoding="utf-8"))["version"]
    return found


def vendor(slides_dir: str | Path = SLIDES_DIR, install: bool = True) -> list[Path]:
    """Copy the files the decks load from ``slides_dir/node_modules`` into ``slides_dir/vendor``.

    When ``install`` is true and ``node_modules/`` does not hold the versions locked in
    ``package-lock.json``, runs ``npm ci`` first (the one step that needs the npm registry).
    ``vendor/`` is replaced by exactly :data:`VENDOR_FILES` plus a ``README.md`` naming each
    package, its version, licence and source, and how to refresh. Returns the written files.

    Raises:
        FileNotFoundError: ``npm`` is needed and not installed.
        RuntimeError: ``npm ci`` failed, or the installed versions differ from the lock file.
    """
    base = _check_path("slides_dir", slides_dir)
    if not isinstance(install, bool):
        raise TypeError(f"install must be a bool, got {install!r} of type "
                        f"{type(install).__name__}.")
    pinned = pinned_versions(base)
    node_modules = base / "node_modules"
    if install and _installed_versions(node_modules) != pinned:
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm is needed to fetch the pinned reveal.js and MathJax "
                                    "(install Node.js: apt-get install npm), got none on PATH.")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=base,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in {base} failed:\n{done.stderr[-2000:]}")
    installed = _installed_versions(node_modules)
    if installed != pinned:
        raise RuntimeError(f"node_modules must hold the locked versions {pinned}, got {installed} "
                           f"(run npm ci in {base}).")
    target = base / VENDOR
    if target.exists():
        shutil.rmtree(target)
    written = []
    for name, pairs in VENDOR_FILES.items():
        for source, dest in pairs:
            out = target / name / dest
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / name / source, out)
            written.append(out)
    readme = target / "README.md"
    readme.write_text(_vendor_readme(pinned, {p: p.stat().st_size for p in written}, target),
                      encoding="utf-8")
    return [*written, readme]


def _vendor_readme(versions: dict[str, str], sizes: dict[Path, int], root: Path) -> str:
    """The text of ``slides/vendor/README.md``: what is vendored, which version, from where."""
    total = sum(sizes.values())
    lines = [
        "# Vendored reveal.js and MathJax (generated: do not edit)",
        "",
        "The course's slide decks (`slides/NN_slug.slides.html`) load these files by relative",
        "path, so a deck opens from disk with no build and no network. They are copied unchanged",
        "from the npm packages (registry.npmjs.org, integrity hashes in the lock file) pinned in",
        "`slides/package.json` / `slides/package-lock.json` by",
        "`mmcourse slides --vendor` (`mmlib.slides.vendor`), which writes this file too.",
        "",
        "| package | version | licence | what the decks use it for |",
        "|---|---|---|---|",
    ]
    for name in VENDOR_FILES:
        title, home, licence, use = _ABOUT[name]
        lines.append(f"| [{title}]({home}) (npm `{name}`) | {versions.get(name, '?')} | "
                     f"{licence} (`{name}/LICENSE`) | {use} |")
    lines += ["", f"Files ({len(sizes)}, {total / 1e6:.2f} MB in all):", ""]
    for path, size in sizes.items():
        lines.append(f"- `{path.relative_to(root).as_posix()}` ({size / 1e3:,.0f} kB)")
    lines += [
        "",
        "## Refresh or upgrade",
        "",
        "1. Change the versions in `slides/package.json`, then `cd slides && npm install` to",
        "   update `package-lock.json` (or keep both as they are to re-copy the same versions).",
        "2. `mmcourse slides --vendor`: runs `npm ci` in `slides/` when `node_modules/` does not",
        "   hold the locked versions, then replaces `vendor/` with the files listed above.",
        "3. `mmcourse slides`: rebuilds every deck; open two in a browser (speaker view: S) and",
        "   run `python -m pytest -n 0 tests/test_slides.py` (includes a real-browser check that",
        "   no request leaves the machine). `slides/node_modules/` is git-ignored; commit",
        "   `vendor/`, `package.json` and `package-lock.json`.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ mmcourse slides

def main(notebooks: Sequence[str], refresh_vendor: bool = False) -> int:
    """``mmcourse slides``: build the decks (or, with ``refresh_vendor``, ``slides/vendor/``).

    Prints one line per deck (slides, size) and returns the exit status: 1 when a notebook
    cannot become a deck or the vendored files are missing, naming the fix.
    """
    import sys
    import time

    import nbformat

    if refresh_vendor:
        try:
            written = vendor()
        except (FileNotFoundError, RuntimeError, ValueError) as exc:
            print(f"mmcourse slides --vendor: {exc}", file=sys.stderr)
            return 1
        size = sum(p.stat().st_size for p in written)
        print(f"vendored {len(written)} files ({size / 1e6:.2f} MB) into "
              f"{_show(SLIDES_DIR / VENDOR)}")
        return 0
    missing = missing_vendor_files()
    if missing:
        print(f"mmcourse slides: {len(missing)} vendored file(s) missing (first: {missing[0]}); "
              f"run mmcourse slides --vendor", file=sys.stderr)
        return 1
    start = time.perf_counter()
    files = [Path(p) for p in notebooks] or sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    try:
        decks = build_all(files if notebooks else None)
    except ValueError as exc:
        print(f"mmcourse slides: {exc}", file=sys.stderr)
        return 1
    for source, deck in zip(files, decks, strict=True):
        count = slide_count(nbformat.read(source, as_version=4))
        print(f"wrote {_show(deck)}: {count} slides, {deck.stat().st_size / 1e3:,.0f} kB")
    print(f"{len(decks)} deck(s) in {time.perf_counter() - start:.1f} s; open one in a browser "
          f"(works offline; S opens the speaker view)")
    return 0


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
