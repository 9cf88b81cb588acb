"""The web apps' guard and path confinement (sim/ui/security.py), over real HTTP on 127.0.0.1.

The guard is tested in front of a small Starlette app served by uvicorn in a thread (fast), and
in front of the real explorer started as a user starts it (``implsim explore``, slow: Solara's
start-up). Requests go through urllib and the ``websockets`` client, which send exactly the
``Origin`` and ``Cookie`` headers a browser would. The browser side (a page of another origin
opening a WebSocket) is in tests/test_ui.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sim.errors import InputError
from sim.ui import security
from sim.ui.security import Guard, confine, launch_token, own_origins

IMPLSIM = Path(sys.executable).parent / "implsim"
TOKEN = "t0ken-for-the-tests_0123456789"


# --- a real server around a tiny app --------------------------------------------------------------
def _tiny_app():
    starlette = pytest.importorskip("starlette")
    del starlette
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute

    async def hello(request):
        return PlainTextResponse("hello")

    async def echo(ws):
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close()

    return Starlette(routes=[Route("/", hello), Route("/static/a.js", hello),
                             WebSocketRoute("/ws", echo)])


@contextmanager
def guarded_server() -> Iterator[int]:
    """The tiny app behind the guard, served by uvicorn on a free loopback port."""
    uvicorn = pytest.importorskip("uvicorn")
    from sim.ui.serve import check_port

    port = check_port(0)
    app = Guard(_tiny_app(), TOKEN, own_origins("127.0.0.1", port), security.cookie_name(port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    """Status, body and Set-Cookie headers of a GET (errors are answers too)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode(), resp.headers.get_all("set-cookie") or []
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers.get_all("set-cookie") or []


def ws_status(url: str, origin: str | None, cookie: str | None) -> int:
    """101 if the WebSocket opened (and echoed), else the HTTP status of the refusal."""
    client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import InvalidStatus

    headers = {"Cookie": cookie} if cookie else {}
    try:
        with client.connect(url, origin=origin, additional_headers=headers,
                            open_timeout=20) as ws:
            if url.endswith("/ws"):
                ws.send("ping")
                assert ws.recv(timeout=10) == "ping"
            return 101
    except InvalidStatus as err:
        return err.response.status_code


def test_token_is_required_and_then_kept_in_a_strict_cookie():
    with guarded_server() as port:
        base = f"http://127.0.0.1:{port}"
        status, body, _ = get(f"{base}/")
        assert status == 403 and body.count("\n") == 1 and "token" in body
        status, body, _ = get(f"{base}/?token=wrong-token-0123456789")
        assert status == 403 and "wrong token" in body
        status, body, cookies = get(f"{base}/?token={TOKEN}")
        assert status == 200 and body == "hello"
        [cookie] = [c for c in cookies if c.startswith(f"implsim-token-{port}=")]
        assert f"={TOKEN};" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = f"implsim-token-{port}={TOKEN}"
        assert get(f"{base}/static/a.js", {"Cookie": jar})[0] == 200  # the page's own assets
        assert get(f"{base}/static/a.js", {"Cookie": f"implsim-token-{port}=forged"})[0] == 403
        assert get(f"{base}/static/a.js", {"Cookie": f"implsim-token-1={TOKEN}"})[0] == 403
        assert get(f"{base}/static/a.js", {"Cookie": "!!!; ==="})[0] == 403
        # a wrong token in the address is refused even beside a good cookie
        assert get(f"{base}/?token=nope", {"Cookie": jar})[0] == 403


def test_a_foreign_origin_is_refused_even_with_the_token():
    with guarded_server() as port:
        base = f"http://127.0.0.1:{port}"
        for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            assert get(f"{base}/?token={TOKEN}", {"Origin": own})[0] == 200
        for foreign in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null",
                        f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port}.evil.example"):
            status, body, cookies = get(f"{base}/?token={TOKEN}", {"Origin": foreign})
            assert status == 403 and "another web site" in body and cookies == [], foreign


def test_websocket_needs_the_own_origin_and_the_cookie():
    with guarded_server() as port:
        url = f"ws://127.0.0.1:{port}/ws"
        jar = f"implsim-token-{port}={TOKEN}"
        own = f"http://127.0.0.1:{port}"
        assert ws_status(url, own, jar) == 101
        assert ws_status(f"{url}?token={TOKEN}", own, None) == 101
        assert ws_status(url, own, None) == 403  # no token
        assert ws_status(url, "http://evil.example", jar) == 403  # a page elsewhere
        assert ws_status(url, f"http://127.0.0.1:{port + 1}", jar) == 403  # another port
        assert ws_status(f"{url}?token={TOKEN}", "http://evil.example", None) == 403


def test_launch_token_is_fresh_unless_fixed_for_automation():
    first, second = launch_token({}), launch_token({})
    assert first != second and len(first) >= 40
    assert launch_token({security.TOKEN_ENV: TOKEN}) == TOKEN
    for bad in ("short", "has space in it 0123456789", "semi;colon-0123456789"):
        with pytest.raises(InputError, match=security.TOKEN_ENV):
            launch_token({security.TOKEN_ENV: bad})


# --- paths typed in a page ------------------------------------------------------------------------
def test_confine_keeps_paths_under_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.toml").write_text("")
    (tmp_path / "outside.toml").write_text("")
    assert confine("sub/a.toml", "scenario file", root) == root / "sub" / "a.toml"
    assert confine(str(root / "sub"), "results directory", root) == root / "sub"
    assert confine("  sub/missing.toml ", "f", root) == root / "sub" / "missing.toml"
    (root / "link").symlink_to(tmp_path / "outside.toml")
    (root / "loop").symlink_to(root / "loop")
    for typed in ("../outside.toml", str(tmp_path / "outside.toml"), "sub/../../outside.toml",
                  "link", "/etc/passwd", "/dev/zero", "~"):
        with pytest.raises(InputError) as err:
            confine(typed, "scenario file", root)
        message = str(err.value)
        assert message.startswith("scenario file: ") and "outside" in message, message
        assert "\n" not in message and "--root" in message
    for typed, why in (("", "give a path"), ("a\0b", "NUL"), ("loop/x", "cannot")):
        with pytest.raises(InputError, match=why):
            confine(typed, "scenario file", root)


def test_confine_refuses_devices_and_pipes_without_opening_them(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")  # opening it would block for ever
    with pytest.raises(InputError, match="not a regular file"):
        confine("pipe.toml", "scenario file", tmp_path)
    with pytest.raises(InputError, match="not a regular file"):
        confine("/dev/zero", "scenario file", Path("/dev"))  # even when /dev is the root


def test_confine_uses_the_declared_root_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv(security.ROOT_ENV, str(tmp_path))
    assert security.root() == tmp_path.resolve()
    assert confine("x.toml", "f") == tmp_path.resolve() / "x.toml"
    monkeypatch.delenv(security.ROOT_ENV)
    monkeypatch.chdir(tmp_path)
    assert security.root() == tmp_path.resolve()
    with pytest.raises(InputError, match="--root"):
        security.check_root(tmp_path / "nope")


def test_explorer_picker_skips_pipes_and_files_outside_the_root(tmp_path, monkeypatch):
    from sim.ui.session import find_scenarios

    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "ok.toml").write_text('name = "ok"\nweeks = 4\n')
    os.mkfifo(folder / "pipe.toml")
    (tmp_path / "elsewhere.toml").write_text('name = "far"\nweeks = 4\n')
    (folder / "link.toml").symlink_to(tmp_path / "elsewhere.toml")
    monkeypatch.setenv(security.ROOT_ENV, str(folder))
    found = find_scenarios(None, folder)
    assert [Path(p).name for p in found if p != "built-in default"] == ["ok.toml"]


# --- the real explorer ----------------------------------------------------------------------------
@contextmanager
def explorer(tmp_path: Path) -> Iterator[str]:
    """``implsim explore`` on a free port; yields the address it printed (with the token)."""
    from sim.ui.serve import check_port

    port = check_port(0)
    log = tmp_path / "explore.log"
    env = {k: v for k, v in os.environ.items() if k != security.TOKEN_ENV}
    with log.open("w") as out:
        proc = subprocess.Popen([str(IMPLSIM), "explore", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp_path, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            found = re.search(r"open (http://\S+\?token=\S+)", log.read_text())
            try:
                if found and get(found.group(1))[0] == 200:
                    break
            except OSError:  # not listening yet
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield found.group(1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the server we started, only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_the_real_explorer_refuses_what_it_should(tmp_path):
    pytest.importorskip("solara")
    with explorer(tmp_path) as url:
        base, token = url.split("/?token=")
        port = int(base.rsplit(":", 1)[1])
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
        assert get(f"{base}/")[0] == 403
        assert get(f"{base}/readyz")[0] == 403
        assert get(f"{base}/?token=wrong-{token}")[0] == 403
        status, body, cookies = get(url)
        assert status == 200 and "solara" in body.lower()
        jar = f"implsim-token-{port}={token}"
        assert any(c.startswith(jar + ";") for c in cookies)
        assert get(f"{base}/readyz", {"Cookie": jar})[0] == 200
        assert get(url, {"Origin": "http://evil.example"})[0] == 403
        kernel = (f"ws://127.0.0.1:{port}/jupyter/api/kernels/k1/channels"
                  "?session_id=s1")
        assert ws_status(kernel, "http://evil.example", jar) == 403
        assert ws_status(kernel, f"http://127.0.0.1:{port + 1}", jar) == 403
        assert ws_status(kernel, base, None) == 403
        assert ws_status(kernel, base, jar) == 101  # the page's own WebSocket
