"""accelsim's version: of the installed distribution, or a source-tree marker; and a digest of its
source, for caches and sweep keys that must change when the code does."""
import hashlib
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

try:
    __version__ = version("accelsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"


def files_digest(paths, root: Path) -> str:
    """SHA-256 of files' names (relative to `root`) and contents, in path order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(Path(path).relative_to(root)).encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 of accelsim's Python sources."""
    return files_digest(PACKAGE.rglob("*.py"), PACKAGE)
