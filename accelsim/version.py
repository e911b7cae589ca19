"""accelsim's version: of the installed distribution, or a source-tree marker."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accelsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"
