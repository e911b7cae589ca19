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


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 of accelsim's Python sources, in path order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
