"""Files written atomically: readers never see half a file, an interrupted run leaves the old one."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """A temporary path beside `path` to write to: renamed over `path` when the block ends, removed
    if it raises. `suffix` keeps an extension for writers that read it (matplotlib, pandas)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path, text: str) -> None:
    """Write text via a temporary file and rename, so readers never see half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
