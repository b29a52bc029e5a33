"""The join link and its QR code (SVG, made on the server: no external service)."""

from __future__ import annotations

from typing import Any


def join_url(base: str, code: str) -> str:
    """``http://host:port/join?room=CODE`` from the page's own address ``base``."""
    return f"{base.rstrip('/')}/join?room={code}"


def page_base(doc: Any = None) -> str:
    """``scheme://host[:port]`` of the teacher's page (its request's Host header), or ''."""
    try:
        request = doc.session_context.request
        host = request.headers.get("Host", "")
        proto = request.headers.get("X-Forwarded-Proto", request.protocol or "http")
    except AttributeError:
        return ""
    return f"{proto}://{host}" if host else ""


def qr_svg(url: str, scale: int = 6) -> str:
    """The QR code of ``url`` as an SVG document (dark on white, quiet zone included)."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=scale, dark="#111827", light="#ffffff")
