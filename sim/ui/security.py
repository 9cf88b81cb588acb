"""What the web apps refuse: other sites' pages, requests without the token, paths outside root.

The apps listen on 127.0.0.1 only, but that alone does not protect them: any web page the user
opens runs in the same browser, on the same machine, and may send requests, or open a WebSocket
that drives the page's Python session, to ``127.0.0.1:PORT``. So, as Jupyter does:

- every HTTP request and WebSocket whose ``Origin`` header is not the app's own address is
  refused (403; a WebSocket is closed before it is accepted). Browsers always send ``Origin`` on
  WebSockets and on cross-site requests; a request without one (curl, the browser's own
  navigation to the printed address) is judged by the token alone;
- every request must carry the launch's token, a ``secrets.token_urlsafe`` printed at start as
  part of the address to open (``?token=...``). The first request with the right token sets a
  cookie (``HttpOnly; SameSite=Strict``, named after the port, since cookies do not tell ports
  apart) so the page's own follow-up requests and its WebSocket pass. Without either: 403 and a
  one-line body saying what to open.

A cookie set for ``127.0.0.1`` is also sent by a page served from another port of 127.0.0.1
(same site), so the ``Origin`` check, not the cookie, is what keeps such a page out.

:func:`confine` is the check for paths typed in a page: a hostile page cannot type there once
the above holds, but a user can, and a page must never read ``/dev/zero`` or a file outside the
folder the app was started for (``--root DIR``, default the working directory).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sim.errors import InputError

#: The launch's token, handed from ``implsim explore``/``dashboard`` to the server process. Set
#: it yourself (at least 16 URL-safe characters) to fix the token, for automation only.
TOKEN_ENV = "IMPLSIM_UI_TOKEN"
#: The folder whose files a page may open (``--root DIR``; default the working directory).
ROOT_ENV = "IMPLSIM_UI_ROOT"

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{16,}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- the token ------------------------------------------------------------------------------------
def launch_token(environ: MutableMapping[str, str] | None = None) -> str:
    """A fresh token for this launch, or the one fixed in ``IMPLSIM_UI_TOKEN`` (checked)."""
    env = os.environ if environ is None else environ
    fixed = env.get(TOKEN_ENV)
    if fixed is None or fixed == "":
        return secrets.token_urlsafe(32)
    if not _TOKEN_CHARS.fullmatch(fixed):
        raise InputError(TOKEN_ENV, "must be at least 16 characters of A-Z, a-z, 0-9, '-' and "
                         "'_' (or unset it: each launch then makes its own token)")
    return fixed


def own_origins(host: str, port: int) -> frozenset[str]:
    """The ``Origin`` values of the app's own pages: its address, and localhost for loopback."""
    hosts = {host}
    if host in ("127.0.0.1", "localhost"):
        hosts |= {"127.0.0.1", "localhost"}
    return frozenset(f"http://{h}:{port}" for h in hosts)


def cookie_name(port: int) -> str:
    """The cookie holding the token; per port, because two apps on 127.0.0.1 share cookies."""
    return f"implsim-token-{port}"


# --- the guard ------------------------------------------------------------------------------------
class Guard:
    """ASGI middleware in front of a whole app: Origin and token checks on every request."""

    def __init__(self, app: ASGIApp, token: str, origins: Iterable[str], cookie: str) -> None:
        self.app = app
        self.token = token
        self.origins = frozenset(o.lower() for o in origins)
        self.cookie = cookie

    def judge(self, scope: Scope) -> tuple[str | None, bool]:
        """Why a request is refused (``None``: it passes) and whether it brought the token."""
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").lower() not in self.origins:
            return (f"requests from another web site ({origin.decode('latin-1')}) are refused; "
                    "open the address implsim printed"), False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            if any(secrets.compare_digest(t.encode(), self.token.encode())
                   for t in query["token"][-1:]):
                return None, True
            return "wrong token; open the address implsim printed at start (it ends in " \
                   "?token=...)", False
        if self._cookie_token(headers.get(b"cookie")):
            return None, False
        return "this app needs its token; open the address implsim printed at start (it " \
               "ends in ?token=...)", False

    def _cookie_token(self, raw: bytes | None) -> bool:
        if raw is None:
            return False
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except CookieError:
            return False
        morsel = jar.get(self.cookie)
        return morsel is not None and secrets.compare_digest(morsel.value.encode(),
                                                             self.token.encode())

    def set_cookie(self) -> tuple[bytes, bytes]:
        """The ``Set-Cookie`` header that lets the page's own later requests pass."""
        return b"set-cookie", (f"{self.cookie}={self.token}; Path=/; HttpOnly; "
                               "SameSite=Strict").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a request on, with the cookie if it brought the token, or refuse it."""
        if scope["type"] not in ("http", "websocket"):  # lifespan: start-up and shut-down
            await self.app(scope, receive, send)
            return
        refused, with_token = self.judge(scope)
        if refused is not None:
            await self._refuse(scope, receive, send, refused)
            return
        if not with_token or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), self.set_cookie()]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, why: str) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        body = f"403 Forbidden: {why}\n".encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# --- paths typed in a page ------------------------------------------------------------------------
def root(environ: MutableMapping[str, str] | None = None) -> Path:
    """The folder a page may read from: ``IMPLSIM_UI_ROOT`` or else the working directory."""
    env = os.environ if environ is None else environ
    return Path(env.get(ROOT_ENV) or Path.cwd()).resolve()


def check_root(path: str | Path | None) -> Path:
    """The ``--root`` folder resolved, or a one-line error (it must be an existing folder)."""
    folder = Path(path if path is not None else Path.cwd()).expanduser().resolve()
    if not folder.is_dir():
        raise InputError("--root", f"{folder} is not a folder; give the folder whose files the "
                         "page may open")
    return folder


def confine(text: str | Path, what: str, base: Path | None = None) -> Path:
    """A path typed in a page, resolved inside ``base`` (default :func:`root`), or an error.

    Relative paths are taken from the root; symbolic links are followed before the check, so a
    link out of the root is refused like the path it points to. A path that does not exist is
    returned (the reader then says it is not there); one that exists must be a regular file or
    a folder: devices, pipes and sockets are refused without opening them.
    """
    folder = root() if base is None else base.resolve()
    typed = str(text).strip()
    if not typed:
        raise InputError(what, "give a path")
    if "\0" in typed:
        raise InputError(what, "a path cannot contain a NUL character")
    try:
        path = (folder / Path(typed).expanduser()).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic-link loop, a name too long
        raise InputError(what, f"cannot resolve {typed!r}: {exc}") from None
    if not path.is_relative_to(folder):
        raise InputError(what, f"{typed!r} is outside {folder}, the folder this app may read "
                         "(start it with --root DIR to open files elsewhere)")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise InputError(what, f"cannot read {typed!r}: {exc.strerror}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(what, f"{typed!r} is not a regular file or folder (a device, pipe or "
                         "socket); give a file")
    return path
