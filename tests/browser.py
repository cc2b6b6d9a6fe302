"""A headless Chromium and a ``jupyter lab`` server for the tests that need them.

A plain module the tests import, not a test file. Playwright (a ``dev`` dependency) drives
Debian's ``chromium`` (``.ci/run`` installs it when it is absent); Playwright's own browser
download is not used, so nothing is fetched at test time. Where no Chromium can be found the
tests are skipped with the reason, never silently passed.

:func:`jupyter_lab` runs JupyterLab on 127.0.0.1 (a free port, a random token) with throw-away
Jupyter config, data and runtime directories under the test's temp dir, so nothing the machine's
user has configured or trusted leaks in (a notebook copied into its root is *untrusted*, as in a
fresh clone), and with settings overrides that turn off the first-run "Jupyter news?" pop-up and
the update check (:data:`LAB_OVERRIDES`). The server is always stopped.
(The helper lives here, not in a ``jupyter_server.py``, which would shadow the real package.)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium",
                       "/usr/bin/chromium-browser")
"""Where Debian / Ubuntu put the Chromium binary (``MMLIB_CHROMIUM`` overrides)."""

LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
"""Flags that make Chromium run as root in a container without a display or GPU."""


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when none is installed."""
    override = os.environ.get("MMLIB_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    return found


@contextmanager
def browser_or_skip() -> Iterator[Any]:
    """Yield a Playwright ``Browser`` (Chromium, headless); skip the test when there is none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it is a dev dependency: "
                    "python -m pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it): looked "
                    f"for {', '.join(CHROMIUM_CANDIDATES)} and MMLIB_CHROMIUM")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- JupyterLab ----------------------------------------------------------------------------------

STARTUP_TIMEOUT = 90.0
"""Seconds ``jupyter lab`` may take to answer ``/api/status`` (slow on a busy 2-core machine)."""

LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",  # "none" (the default) asks "get notified about Jupyter news?"
        "checkForUpdates": False,
    },
}
"""JupyterLab settings overrides (``overrides.json`` in the app settings directory)."""


@dataclass
class LabServer:
    """A running ``jupyter lab``: where it listens, its token, its process and its log file."""

    base: str
    token: str
    proc: subprocess.Popen
    log_path: Path

    def url(self, path: str = "lab") -> str:
        """The browser URL of ``path`` (e.g. ``"lab/tree/00_welcome.ipynb"``) with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET") -> tuple[int, Any]:
        """Call the REST API (``path`` like ``"api/status"``); return (status, decoded JSON)."""
        req = urllib.request.Request(f"{self.base}/{path.lstrip('/')}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
            return resp.status, (json.loads(body) if body else None)

    def log(self) -> str:
        """What the server printed so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_settings_dir(work: Path) -> Path:
    """A copy of the installed app settings directory with :data:`LAB_OVERRIDES` merged in."""
    settings = work / "app-settings"
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    if installed.is_dir():
        shutil.copytree(installed, settings)
    settings.mkdir(parents=True, exist_ok=True)
    path = settings / "overrides.json"
    overrides = json.loads(path.read_text()) if path.exists() else {}
    for plugin, values in LAB_OVERRIDES.items():
        overrides.setdefault(plugin, {}).update(values)
    path.write_text(json.dumps(overrides, indent=2))
    return settings


def _stop(server: LabServer) -> None:
    """Shut the kernels down, then the server (SIGTERM, then SIGKILL after 30 s)."""
    proc = server.proc
    if proc.poll() is None:
        try:  # kernels run in their own sessions: stop them before the server goes
            _, kernels = server.api("api/kernels")
            for k in kernels:
                server.api(f"api/kernels/{k['id']}", method="DELETE")
        except (OSError, ValueError):
            pass
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def jupyter_lab(root_dir: Path, work: Path) -> Iterator[LabServer]:
    """Run ``jupyter lab`` serving ``root_dir``; its config / data / runtime / log go in ``work``.

    Waits until the server answers (at most :data:`STARTUP_TIMEOUT` s) and stops it on exit,
    also when the body or the start fails.
    """
    work.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--port-retries=0", f"--ServerApp.root_dir={root_dir}",
           f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
           "--allow-root", f"--LabApp.app_settings_dir={_app_settings_dir(work)}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(work / "config"),  # user settings, workspaces: fresh
           "JUPYTER_DATA_DIR": str(work / "data"),  # notebook trust database: empty
           "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    log_path = work / "jupyter-lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
    server = LabServer(f"http://127.0.0.1:{port}", token, proc, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert proc.poll() is None, f"jupyter lab exited early:\n{server.log()}"
            try:
                server.api("api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (
                    f"jupyter lab did not answer within {STARTUP_TIMEOUT:.0f} s:\n{server.log()}")
                time.sleep(0.5)
        yield server
    finally:
        _stop(server)


def record_requests(context: Any) -> list[str]:
    """Record the URL of every request a Playwright ``BrowserContext`` makes from now on.

    Returns the list, which fills up as pages, frames and pop-ups (a speaker view, say) of the
    context load; failed requests are recorded too (they are requested all the same).
    """
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    return urls
