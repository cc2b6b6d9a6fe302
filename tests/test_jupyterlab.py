"""``jupyter lab`` serves the course: start it on 127.0.0.1, read 00_welcome through its API."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from mmlib.env import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_jupyter_lab_serves_welcome_notebook(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", f"--ServerApp.root_dir={REPO_ROOT}",
           f"--IdentityProvider.token={token}",
           "--ServerApp.open_browser=False", "--allow-root",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    env_home = {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    import os

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **env_home})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"jupyter lab exited early:\n{proc.stdout.read()}"
            try:
                status, _ = _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "jupyter lab did not answer within 90 s"
                time.sleep(0.5)
        status, model = _get(f"{base}/api/contents/notebooks/00_welcome.ipynb?content=1", token)
        assert status == 200
        assert model["type"] == "notebook" and model["name"] == "00_welcome.ipynb"
        cells = model["content"]["cells"]
        assert cells[0]["cell_type"] == "markdown" and "Welcome" in cells[0]["source"]
        status, lab = 0, None
        with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as resp:
            status, lab = resp.status, resp.read().decode()
        assert status == 200 and "JupyterLab" in lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
