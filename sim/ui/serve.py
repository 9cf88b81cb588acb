"""Start a page on localhost with every asset served from the installed packages (offline).

Solara's page loads its JavaScript, CSS and fonts through a local proxy that, for a file it does
not have, would fetch it from a public CDN. The ``solara-assets`` package (in the ``ui`` extra)
installs those files into the proxy's cache, and this module checks that they are there before
starting, so a page never depends on the internet. It also points the proxy's CDN at a closed
local port, so a missing file fails at once instead of leaking a request, and turns off Solara's
usage telemetry and version check.

The server runs in a fresh interpreter (``python -m sim.ui.serve APP HOST PORT``): Solara's
Starlette app behind :class:`sim.ui.security.Guard`, which refuses foreign web pages and requests
without the launch's token (printed here as part of the address to open). Environment variables
tell it what to show (a scenario file, a results directory), the token, and the root folder of
the paths a page may open.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from sim.errors import InputError
from sim.ui import security

SCENARIO_ENV = "IMPLSIM_UI_SCENARIO"
RESULTS_ENV = "IMPLSIM_UI_RESULTS"

#: Where the proxy would go for a file that is not installed: a closed port on this machine.
NO_CDN = "http://127.0.0.1:9/no-cdn/"

OFFLINE_ENV = {
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_ASSETS_CDN": NO_CDN,
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_MODE": "production",
}

_CDN_REF = re.compile(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@[\w.+-]+)/")


def _require_solara() -> None:
    if importlib.util.find_spec("solara") is None:
        raise InputError("implsim", "the web apps need Solara: install them with "
                         "`pip install -e '.[ui]'` (or `bash scripts/install.sh dev`)")


def required_assets() -> list[str]:
    """``package@version`` folders the page template loads through the asset proxy."""
    import ipyvue
    import solara.server

    vue3 = ipyvue.__version__.startswith("3")
    template = Path(solara.server.__file__).parent / "templates" / "solara.html.j2"
    refs = dict.fromkeys(_CDN_REF.findall(template.read_text()))
    wanted = [r for r in refs if ("vuetify3-app" in r) == vue3 or "vuetify" not in r]
    from solara.server import settings

    if settings.assets.fontawesome_enabled:
        wanted.append(settings.assets.fontawesome_path.strip("/").split("/")[0])
    return wanted


def missing_assets() -> tuple[Path, list[str]]:
    """The proxy's cache folder and the required asset folders that are not in it."""
    _require_solara()
    from solara.server import settings

    cache = Path(settings.assets.proxy_cache_dir)
    return cache, [a for a in required_assets() if not (cache / a).is_dir()]


def check_assets() -> None:
    """Stop with a clear message if the page would need files from the internet."""
    cache, missing = missing_assets()
    if missing:
        raise InputError("implsim", f"the web apps' JavaScript and fonts are not installed "
                         f"locally ({', '.join(missing)} missing in {cache}); the apps never "
                         "fetch them from the internet. Install them with `pip install -e "
                         "'.[ui]'` (package solara-assets, with ipyvue<3)")


def check_port(port: int, host: str = "127.0.0.1") -> int:
    """A TCP port number (0: a free one, chosen now so it can be printed), or an error."""
    if not 0 <= port <= 65535:
        raise InputError("--port", f"must be in 0..65535, got {port}")
    if port == 0:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
    return port


def command(app: str, host: str, port: int) -> list[str]:
    """The server process's command line for a page module of :mod:`sim.ui`."""
    return [sys.executable, "-m", "sim.ui.serve", app, host, str(port)]


def environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of this process plus the offline settings and the app's inputs."""
    return {**os.environ, **OFFLINE_ENV, **extra}


def address(host: str, port: int, token: str) -> str:
    """The address to open: the app's own, carrying the launch's token."""
    return f"http://{host}:{port}/?token={token}"


def serve(app: str, host: str, port: int, extra_env: dict[str, str],
          root: str | None = None) -> int:
    """Run a page until interrupted; returns the server's exit code.

    ``root`` is the folder whose files the page may open (``--root``; else ``IMPLSIM_UI_ROOT``,
    else the working directory).
    """
    port = check_port(port, host)
    check_assets()
    token = security.launch_token()
    folder = security.check_root(root or os.environ.get(security.ROOT_ENV) or None)
    env = environment({**extra_env, security.TOKEN_ENV: token, security.ROOT_ENV: str(folder)})
    print(f"implsim: open {address(host, port, token)} (this launch's token is in the address; "
          f"the page may open files under {folder}; Ctrl-C stops)", flush=True)
    return subprocess.call(command(app, host, port), env=env)


def run_server(app: str, host: str, port: int) -> None:
    """In the server process: Solara's app for page ``app``, guarded, on ``host:port``."""
    token = os.environ.get(security.TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"implsim: {security.TOKEN_ENV} is not set; start the apps with "
                         "`implsim explore` or `implsim dashboard`")
    # what `solara run` sets before Solara's server module reads it on import
    os.environ["SOLARA_APP"] = app
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    import uvicorn
    from solara.server.starlette import app as solara_app

    guarded = security.Guard(solara_app, token, security.own_origins(host, port),
                             security.cookie_name(port))
    uvicorn.run(guarded, host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    run_server(sys.argv[1], sys.argv[2], int(sys.argv[3]))
