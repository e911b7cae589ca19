from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCH_DIR = REPO / "arch"
WORKLOAD_DIR = REPO / "workloads"
SHARED = REPO.parent / "shared"


@pytest.fixture
def write(tmp_path):
    """Write a text file into a temporary folder and return its path."""
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/data from the current model instead of comparing")
