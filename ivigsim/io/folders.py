"""Output folders: checked before anything runs, created tracking what was made, locked while written.

- ``check_folder``: refuses, writing nothing, a destination that cannot become a results
  folder (an existing file, a path under a file, a folder this user cannot write, a folder
  another run is writing to).
- ``FolderLock``: ``OUT/.lock``, created atomically (``O_CREAT | O_EXCL``) with the pid and
  host of the run holding it, removed at the end. A second run into the same folder is
  refused while the holder lives; a lock left by a dead process (same host, pid gone) is
  taken over. Trials (``ivigsim.trial.store``) and single simulations use the same lock.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ivigsim.errors import InputError

LOCK = ".lock"
#: An unreadable lock younger than this is taken to be one being written (held).
LOCK_GRACE_S = 10.0


def check_folder(out: Path, field_name: str = "--out") -> None:
    """Refuse, writing nothing, a destination that cannot be a results folder or that another
    run holds; an existing folder's contents are the caller's business."""
    out = Path(out)
    try:
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise InputError(field_name, "a folder for the results", f"{out} (exists and is not a folder)")
            if not os.access(out, os.W_OK | os.X_OK) or not _can_write_in(out):
                raise InputError(field_name, "a folder this user can write", f"{out} (not writable)")
            refuse_if_locked(out)
            return
        above = out.parent
        while not (above.exists() or above.is_symlink()) and above != above.parent:
            above = above.parent
        if not above.is_dir():
            raise InputError(field_name, "a folder that can be created", f"{out} ({above} is a file)")
        if not os.access(above, os.W_OK | os.X_OK) or not _can_write_in(above):
            raise InputError(field_name, "a folder that can be created", f"{out} ({above} is not writable)")
    except OSError as exc:
        raise InputError(field_name, "a folder that can be created and written", f"{out} ({exc.strerror or exc})") from None


def _can_write_in(folder: Path) -> bool:
    """Whether a folder can be created in ``folder`` (tried, then removed: permission bits
    do not tell for root, read-only mounts or pseudo file systems)."""
    try:
        probe = tempfile.mkdtemp(prefix=".ivigsim-probe-", dir=folder)
    except OSError:
        return False
    try:
        os.rmdir(probe)
    except OSError:
        pass
    return True


def make_folder(out: Path) -> list[Path]:
    """Create ``out`` (and missing parents); return the folders this call created."""
    missing = []
    p = Path(out)
    while not (p.exists() or p.is_symlink()) and p != p.parent:
        missing.append(p)
        p = p.parent
    created: list[Path] = []
    for d in reversed(missing):
        try:
            os.mkdir(d)
            created.append(d)
        except FileExistsError:
            if not d.is_dir():
                remove_folders(created)
                raise InputError("--out", "a folder that can be created", f"{out} ({d} is a file)") from None
        except OSError as exc:
            remove_folders(created)
            raise InputError("--out", "a folder that can be created and written", f"{out} ({exc.strerror or exc})") from None
    if not Path(out).is_dir():
        raise InputError("--out", "a folder for the trial's files", f"{out} (exists and is not a folder)")
    return created


def remove_folders(created: list[Path]) -> None:
    """Remove the folders ``make_folder`` created, deepest first, where still empty."""
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def refuse_if_locked(out: Path) -> bytes | None:
    """Refuse if a live run holds ``out``'s lock; else return the stale lock's bytes (None: no lock)."""
    path = Path(out) / LOCK
    try:
        seen = path.read_bytes()
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError("--out", "a folder no other run is writing to",
                         f"{out} (its lock {path} cannot be read: {exc.strerror})") from None
    try:
        held = json.loads(seen.decode())
        pid, host = int(held["pid"]), str(held["host"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        if age < LOCK_GRACE_S:  # being written by the run that just created it
            raise InputError("--out", "a folder no other run is writing to",
                             f"{out} (another run is starting there: {path})") from None
        return seen  # garbage: nobody holds it
    if host != socket.gethostname() or _alive(pid):
        where = "" if host == socket.gethostname() else f" on {host}"
        raise InputError("--out", "a folder no other run is writing to",
                         f"{out} (locked by process {pid}{where}, {path}; if no run is active there, delete the lock)")
    return seen


@dataclass
class FolderLock:
    """``OUT/.lock``: one run at a time writes to a trial folder."""

    path: Path
    content: bytes = field(repr=False)

    @classmethod
    def acquire(cls, out: Path) -> FolderLock:
        path = Path(out) / LOCK
        info = {"pid": os.getpid(), "host": socket.gethostname(), "token": uuid.uuid4().hex,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        content = (json.dumps(info) + "\n").encode()
        for _ in range(5):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                cls._take_over_if_stale(path, out)
                continue
            except OSError as exc:
                raise InputError("--out", "a folder this user can write", f"{out} ({exc.strerror or exc})") from None
            try:
                os.write(fd, content)
            finally:
                os.close(fd)
            return cls(path, content)
        raise InputError("--out", "a folder no other run is writing to", f"{out} (could not take its lock {path})")

    @staticmethod
    def _take_over_if_stale(path: Path, out: Path) -> None:
        """Remove the lock at ``path`` if its process is gone; refuse if it lives."""
        seen = refuse_if_locked(out)
        if seen is None:
            return  # released meanwhile: try again
        # Stale: move it aside atomically, and check that what was moved is what was judged.
        aside = path.with_name(f"{LOCK}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InputError("--out", "a folder this user can write", f"{out} ({exc.strerror or exc})") from None
        try:
            if aside.read_bytes() != seen:  # a new lock was taken meanwhile: put it back
                try:
                    os.link(aside, path)
                except OSError:
                    pass
        finally:
            aside.unlink(missing_ok=True)

    def release(self) -> None:
        try:
            if self.path.read_bytes() == self.content:
                self.path.unlink()
        except OSError:
            pass
