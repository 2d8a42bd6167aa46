"""The web page and its JSON API (``ivigsim serve``): a thin layer over the library.

``create_app(db)`` builds the FastAPI application; nothing here is imported by the
science, and FastAPI is imported only when the web layer is used.
"""

from __future__ import annotations


def create_app(db=None):
    from ivigsim.web.app import create_app as _create

    return _create(db)


__all__ = ["create_app"]
