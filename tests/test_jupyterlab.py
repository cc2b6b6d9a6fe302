"""``jupyter lab`` serves the course: start it on 127.0.0.1, read 00_welcome through its API."""

from __future__ import annotations

import urllib.request

from browser import jupyter_lab

from mmlib.env import REPO_ROOT


def test_jupyter_lab_serves_welcome_notebook(tmp_path):
    with jupyter_lab(REPO_ROOT, tmp_path) as lab:
        status, model = lab.api("api/contents/notebooks/00_welcome.ipynb?content=1")
        assert status == 200
        assert model["type"] == "notebook" and model["name"] == "00_welcome.ipynb"
        cells = model["content"]["cells"]
        assert cells[0]["cell_type"] == "markdown" and "Welcome" in cells[0]["source"]
        with urllib.request.urlopen(lab.url("lab"), timeout=10) as resp:
            status, page = resp.status, resp.read().decode()
        assert status == 200 and "JupyterLab" in page
