"""The dashboard's pages and their assets, from the package (no CDN: an office network may be closed).

Pages hold no data and no inline script (the CSP forbids it): each loads its script from /static and
asks the JSON API, so a page without a session is only a redirect to the login page (guard.SessionGate).
"""

from __future__ import annotations

import html
import mimetypes
import re
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

STATIC = resources.files("central") / "static"
PAGES = {"/": "index.html", "/device": "device.html", "/assists": "assists.html", "/usage": "usage.html",
         "/cases": "cases.html", "/case": "case.html", "/audit": "audit.html", "/releases": "releases.html",
         "/login": "login.html"}
ASSET = re.compile(r"[a-z0-9_-]+\.(js|css|svg|png)")

router = APIRouter(include_in_schema=False)


def _file(name: str) -> Response:
    asset = STATIC / name
    if not asset.is_file():
        raise HTTPException(404, f"no {name}")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(asset.read_bytes(), media_type=kind + ("; charset=utf-8" if kind.startswith("text/") or
                                                           kind.endswith("javascript") else ""))


for _path, _name in PAGES.items():
    router.add_api_route(_path, lambda name=_name: _file(name), methods=["GET"])


@router.get("/static/{name}")
def static(name: str) -> Response:
    if not ASSET.fullmatch(name):
        raise HTTPException(404, f"no {name}")
    response = _file(name)
    response.headers["Cache-Control"] = "no-cache"
    return response


def not_found(path: str) -> Response:
    """A page for a browser that asked for an address central does not have."""
    body = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>没有这个页面</title>'
            '<link rel="stylesheet" href="static/app.css"></head><body><main><h1>没有这个页面 no such page</h1>'
            f'<p>{html.escape(path)}</p><p><a href="./">回到总览 back to the overview</a></p></main></body></html>')
    return Response(body, status_code=404, media_type="text/html; charset=utf-8")


def is_public(path: str) -> bool:
    """What answers without a session: the login page and its assets, logging in, and monitoring
    (which checks its callers itself)."""
    return (path in ("/login", "/api/login", "/api/health", "/metrics", "/favicon.ico")
            or path.startswith("/static/"))
