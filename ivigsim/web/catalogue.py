"""The run catalogue: every run's inputs, the ivigsim version that made it, its status and
its outputs, in SQLite (embedded, the default) or PostgreSQL (a shared server).

A run is a row of ``runs``; its files (the NetCDF results, figures) are rows of
``artefacts``. Trials write their progress and status here as they go, so a page reloaded
in the middle of a trial (or another browser) finds it, and a server restarted on the same
file finds every earlier run. The standard library's ``sqlite3`` and, for PostgreSQL,
``psycopg`` (an optional dependency) are used directly: two tables do not need an ORM.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ivigsim import __version__
from ivigsim.errors import InputError

#: Status of a run: finished ones are done, failed, cancelled or interrupted (the server
#: stopped while it ran).
FINISHED = ("done", "failed", "cancelled", "interrupted")
UNFINISHED = ("queued", "running")

_COLUMNS = ("id", "kind", "name", "created", "version", "status", "progress", "done", "total",
            "inputs", "result", "error", "cancel_requested")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        version TEXT NOT NULL,
        status TEXT NOT NULL,
        progress DOUBLE PRECISION NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        inputs TEXT NOT NULL,
        result TEXT,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS runs_created ON runs (created)",
    """CREATE TABLE IF NOT EXISTS artefacts (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        data {blob} NOT NULL,
        PRIMARY KEY (run_id, name)
    )""",
)


def new_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Catalogue:
    """Runs and their artefacts in one database; safe to use from several threads (each
    operation opens its own connection, so a trial's worker thread and the request threads
    never share one)."""

    def __init__(self, url: str | Path) -> None:
        text = str(url)
        self.url = text
        self.postgres = text.startswith(("postgresql://", "postgres://"))
        self._lock = threading.Lock()  # SQLite allows one writer: writers queue here, not on "database is locked"
        if self.postgres:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise InputError("--db", "a SQLite file, or a PostgreSQL URL with psycopg installed "
                                 "(pip install 'ivigsim[postgres]')", "psycopg is not installed") from None
            self.where = text.split("@")[-1]  # never echo a password
        else:
            path = Path(text).expanduser()
            if path.is_dir():
                raise InputError("--db", "a SQLite file (not a folder), or a postgresql:// URL", str(path))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError("--db", "a SQLite file whose folder can be created", f"{path} ({exc.strerror})") from None
            self.path = path
            self.where = str(path)
        try:
            with self._connect() as db:
                for statement in _SCHEMA:
                    db.execute(statement.format(blob="BYTEA" if self.postgres else "BLOB"))
        except (sqlite3.Error, OSError) as exc:
            raise InputError("--db", "a SQLite file that can be created and written", f"{self.where} ({exc})") from None
        except Exception as exc:  # psycopg's errors (no server, bad credentials) without importing it first
            if not self.postgres:
                raise
            raise InputError("--db", "a reachable PostgreSQL database", f"{self.where} ({type(exc).__name__})") from None

    # --- connections ---------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url, autocommit=False) as conn:
                yield _Postgres(conn)
            return
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            with conn:  # a transaction: committed on success, rolled back on an exception
                yield conn
        finally:
            conn.close()

    def _write(self, sql: str, params: tuple = ()) -> int:
        with self._lock, self._connect() as db:
            return db.execute(sql, params).rowcount

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._connect() as db:
            return list(db.execute(sql, params).fetchall())

    # --- runs ----------------------------------------------------------------------------

    def add_run(self, kind: str, name: str, inputs: Any, status: str = "done", result: Any = None,
                total: int = 0, run_id: str | None = None) -> str:
        run_id = run_id or new_id()
        self._write("INSERT INTO runs (id, kind, name, created, version, status, progress, done, total, inputs, "
                    "result, error, cancel_requested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, kind, str(name)[:200], _now(), __version__, status, 1.0 if status == "done" else 0.0,
                     0, total, json.dumps(inputs), None if result is None else json.dumps(result), None, 0))
        return run_id

    def update(self, run_id: str, **fields: Any) -> None:
        allowed = {"status", "progress", "done", "total", "result", "error"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a run field: {sorted(unknown)}")
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        names = sorted(fields)
        sets = ", ".join(f"{n} = ?" for n in names)
        self._write(f"UPDATE runs SET {sets} WHERE id = ?", (*[fields[n] for n in names], run_id))

    def get(self, run_id: str) -> dict | None:
        rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id = ?", (run_id,))
        return _record(rows[0]) if rows else None

    def runs(self, kind: str | None = None, limit: int = 50, status: str | None = None) -> list[dict]:
        where, params = [], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if status:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        columns = ", ".join(c for c in _COLUMNS if c not in ("inputs", "result"))
        rows = self._read(f"SELECT {columns}, NULL, NULL FROM runs {clause}ORDER BY created DESC, id LIMIT ?",
                          (*params, int(limit)))
        order = [c for c in _COLUMNS if c not in ("inputs", "result")] + ["inputs", "result"]
        return [_record(row, order) for row in rows]

    def request_cancel(self, run_id: str) -> None:
        self._write("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))

    def cancel_requested(self, run_id: str) -> bool:
        rows = self._read("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0][0])

    def interrupt_unfinished(self) -> int:
        """Runs a previous server left queued or running: nothing runs them any more."""
        return self._write("UPDATE runs SET status = 'interrupted', error = ? WHERE status IN ('queued', 'running')",
                           ("the server stopped while this run was unfinished; start it again",))

    # --- artefacts -----------------------------------------------------------------------

    def put_artefact(self, run_id: str, name: str, media_type: str, data: bytes) -> None:
        self._write("DELETE FROM artefacts WHERE run_id = ? AND name = ?", (run_id, name))
        self._write("INSERT INTO artefacts (run_id, name, media_type, data) VALUES (?, ?, ?, ?)",
                    (run_id, name, media_type, data))

    def artefact(self, run_id: str, name: str) -> tuple[str, bytes] | None:
        rows = self._read("SELECT media_type, data FROM artefacts WHERE run_id = ? AND name = ?", (run_id, name))
        return (rows[0][0], bytes(rows[0][1])) if rows else None


def _record(row: tuple, order: tuple | list = _COLUMNS) -> dict:
    record = dict(zip(order, row))
    for key in ("inputs", "result"):
        if record.get(key) is not None:
            record[key] = json.loads(record[key])
    record["cancel_requested"] = bool(record["cancel_requested"])
    return record


class _Postgres:
    """psycopg behind sqlite3's ``execute(sql, params)`` with ``?`` placeholders."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()):
        cursor = self.conn.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor
