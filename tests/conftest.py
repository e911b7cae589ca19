import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples every run (derandomize), so a red CI run is one anyone can rerun;
# local runs draw new ones and keep finding new cases.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
ARCH_DIR = REPO / "arch"
WORKLOAD_DIR = REPO / "workloads"
SHARED = REPO.parent / "shared"
# The mapper's on-disk cache of CLI runs goes to a fresh folder: tests neither read a developer's
# cache nor leave entries in it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="accelsim-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)
# The slow references (tests/kernels/naive_*.py) serve the other tiers too.
sys.path.insert(0, str(Path(__file__).resolve().parent / "kernels"))


@pytest.fixture
def needs_onnx():
    """The ONNX tests need the onnx package (the test extra has it): without it they skip, except
    under CI (the CI environment variable set), where its absence is a failure."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        message = "onnx is not installed (pip install -e '.[test]'): the ONNX import tests need it"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so its absence is a failure", pytrace=False)
        pytest.skip(message)


def require_shared(path: Path, what: str) -> Path:
    """`path` in the shared reference folder (../shared beside the repository), or a skip that says
    how to get it; under CI (the CI environment variable set) a missing folder is a failure."""
    if path.exists():
        return path
    message = (f"{what} not found at {path}: these tests read the shared reference folder, which "
               f"must sit beside the repository as ../shared (CI provides it)")
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so its absence is a failure", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def write(tmp_path):
    """Write a text file into a temporary folder and return its path."""
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


@pytest.fixture(scope="module")
def arch_from_text(tmp_path_factory):
    """Load an architecture written inline in a test (through a file, as users load them)."""
    import accelsim

    def load(text: str):
        path = tmp_path_factory.mktemp("arch") / "arch.yaml"
        path.write_text(text)
        return accelsim.load_arch(path)
    return load


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/data from the current model instead of comparing")
