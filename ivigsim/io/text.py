"""Reading a user's text file, with one clear line for every way it can fail."""

from __future__ import annotations

from pathlib import Path

from ivigsim.errors import InputError


#: The largest file read: far above any scenario, trial or dataset a person writes, far below
#: what would exhaust memory (``/dev/zero`` or a huge file is refused, not read to the end).
MAX_BYTES = 64 * 1024 * 1024


def read_text(path: str | Path, field: str, kind: str, encoding: str = "utf-8", max_bytes: int = MAX_BYTES) -> str:
    """The file's text; a missing, unreadable or huge file is an ``InputError`` on ``field``.

    ``kind`` says what the file should be ("scenario file", "dataset file (CSV)").
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(field, f"a {kind}, not a folder", str(path))
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputError(field, f"a {kind} of at most {max_bytes // 2 ** 20} MiB", f"{path} (larger)")
        return data.decode(encoding)
    except FileNotFoundError:
        raise InputError(field, f"an existing {kind}", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(field, f"a readable UTF-8 {kind}", f"{path} ({exc.__class__.__name__})") from None
