"""The FastAPI application: routers, the catalogue and the trial worker, and the one place
where errors become HTTP responses.

Status codes: an input the library refuses is 422 with the CLI's one-line message and the
field it names; an unknown run is 404; a body over the limit is 413. No request should end
in a 5xx: the library raises ``InputError`` for every bad input it knows of, and a number
too large or otherwise impossible that slips past its checks (``ValueError``,
``ArithmeticError``, ``MemoryError``, ``RecursionError``) is still an input the page cannot
simulate, so it is answered as 422 too and logged. Anything else is a bug, answered as a
500 with one line (never a traceback) and logged.
"""

from __future__ import annotations

import html
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ivigsim import __version__
from ivigsim.errors import InputError, IvigsimError
from ivigsim.web import service
from ivigsim.web.api import RunNotFound, error_body
from ivigsim.web.catalogue import Catalogue
from ivigsim.web.trials import TrialWorker

log = logging.getLogger("ivigsim.web")

HERE = Path(__file__).parent


def default_db() -> Path:
    """Where ``ivigsim serve`` keeps its catalogue unless told: the user's data folder."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ivigsim" / "runs.sqlite"


def create_app(db: str | Path | None = None) -> FastAPI:
    """The application, with its catalogue at ``db`` (a SQLite file or a postgresql:// URL)."""
    catalogue = Catalogue(db or default_db())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stale = catalogue.interrupt_unfinished()
        if stale:
            log.info("%d unfinished run(s) of an earlier server marked interrupted", stale)
        yield
        app.state.trials.close(wait=True)

    app = FastAPI(title="ivigsim", version=__version__, lifespan=lifespan,
                  description="Mechanistic simulator of IVIG therapy: simulate, compare, explain, safety, "
                              "virtual trials and a catalogue of runs. Bodies carry the same documents as "
                              "ivigsim's YAML files; errors name the field, as the command line does.")
    app.state.catalogue = catalogue
    app.state.trials = TrialWorker(catalogue)
    app.add_middleware(BodyLimit, limit=service.LIMITS.body_bytes)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from ivigsim.web import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    _errors(app)
    return app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/openapi", "/docs", "/static"))


def _respond(request: Request, status: int, field: str, message: str, expected: str | None = None):
    if _wants_html(request):
        # A fragment the page swaps in where the result would have gone.
        return HTMLResponse(f'<p class="error" role="alert">error: {html.escape(message)}</p>', status_code=status)
    return JSONResponse(error_body(field, message, expected), status_code=status)


#: Pydantic's names for members of a union in error locations (not fields a user wrote).
_TAG = re.compile(r"^(list|dict|tuple|set|bool|int|float|str|function-\w+|constrained-\w+|literal\[.*\])(\[.*\])?$")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return _respond(request, 422, exc.field, str(exc), exc.expected)

    @app.exception_handler(IvigsimError)
    async def ivigsim_error(request: Request, exc: IvigsimError):
        return _respond(request, 422, "scenario", str(exc))

    @app.exception_handler(RunNotFound)
    async def run_not_found(request: Request, exc: RunNotFound):
        return _respond(request, 404, "run_id", str(exc))

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError):
        """FastAPI's own checks of the body, path and query, as one line like the library's."""
        errors = exc.errors()
        specific = [e for e in errors if not str(e.get("type", "")).endswith("_type")] or errors
        err = specific[0] if specific else {"loc": ("body",), "msg": "a valid request", "type": "", "input": None}
        loc = [str(p) for p in err.get("loc", ()) if not _TAG.search(str(p))]
        if loc and loc[0] in ("body", "path", "query"):
            loc = loc[1:]
        field = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            return _respond(request, 422, "body", f"body: expected valid JSON, got {err.get('ctx', {}).get('error', 'invalid JSON')}")
        if err.get("type") == "missing":
            expected, got = "this field (it is required)", "nothing"
        elif err.get("type") == "string_pattern_mismatch" and field == "run_id":
            expected, got = "a run id (32 hexadecimal digits)", err.get("input")
        elif err.get("type") == "extra_forbidden":
            expected, got = "no such field", err.get("input")
        else:
            message = str(err.get("msg", "")).removeprefix("Value error, ").removeprefix("Input should be ")
            expected, got = (message[:1].lower() + message[1:]) or "a valid value", err.get("input")
        return _respond(request, 422, field, str(InputError(field, expected, got)), expected)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """What the framework refuses before a route runs (a body it cannot parse, a path no
        route has, a method a route does not take), in the same shape as every other error."""
        if exc.status_code == 400:
            return _respond(request, 400, "body", "body: expected a JSON document in UTF-8 that can be parsed "
                            "(integers of at most 4,300 digits, nesting Python can read), got one that cannot")
        if exc.status_code == 404:
            return _respond(request, 404, "path", f"path: expected one of the API's routes (see /docs), "
                            f"got {request.url.path[:200]!r}")
        if exc.status_code == 405:
            return _respond(request, 405, "method", f"method: expected one this route takes, got {request.method}")
        return _respond(request, exc.status_code, "request", f"request: {exc.detail}")

    @app.exception_handler(LookupError)
    async def lookup_error(request: Request, exc: LookupError):
        return _respond(request, 404, "run_id", "run_id: expected a run with stored results, got one without")

    @app.exception_handler(Exception)
    async def anything_else(request: Request, exc: Exception):
        if isinstance(exc, (ValueError, ArithmeticError, MemoryError, RecursionError)):
            log.warning("input the library did not refuse but could not run: %s %s", request.url.path, exc,
                        exc_info=True)
            return _respond(request, 422, "scenario", "scenario: expected values the model can simulate, got "
                            f"values that failed inside it ({type(exc).__name__})")
        log.exception("internal error on %s", request.url.path)
        return _respond(request, 500, "server", f"internal error ({type(exc).__name__}); see the server log")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length when given and by
    counting otherwise (a chunked upload), before any of it reaches a handler."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        message = f"body: expected at most {self.limit:,} bytes, got more"
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                too_big = True
            if too_big:
                return await JSONResponse(error_body("body", message), status_code=413)(scope, receive, send)
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # Read the body here (at most limit + one message), then hand it on: a chunked upload
        # without Content-Length is refused as soon as it passes the limit.
        chunks, seen = [], 0
        while True:
            event = await receive()
            if event["type"] != "http.request":
                return await self.app(scope, _replay([event]), send)  # the client went away
            chunks.append(event.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await JSONResponse(error_body("body", message), status_code=413)(scope, receive, send)
            if not event.get("more_body", False):
                break
        return await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks),
                                                "more_body": False}], receive), send)


def _replay(events: list, then=None):
    """A receive() that gives ``events`` first, then what ``then`` gives (a disconnect)."""
    pending = list(events)

    async def receive():
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
