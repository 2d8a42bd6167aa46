"""Reading a user's text file, with one clear line for every way it can fail."""

from __future__ import annotations

from pathlib import Path

from ivigsim.errors import InputError


def read_text(path: str | Path, field: str, kind: str, encoding: str = "utf-8") -> str:
    """The file's text; a missing or unreadable file is an ``InputError`` on ``field``.

    ``kind`` says what the file should be ("scenario file", "dataset file (CSV)").
    """
    path = Path(path)
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise InputError(field, f"an existing {kind}", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(field, f"a readable UTF-8 {kind}", f"{path} ({exc.__class__.__name__})") from None
