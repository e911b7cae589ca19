"""Every torchvision classification model, exported to ONNX (tests/data/onnx/export.py, weights
stripped), imports, and its MAC total matches torchvision's published figure.

The published figure is the weights' ``meta["_ops"]``: GFLOPS as torchvision's model tables give
them, counted by the TorchDispatchMode FLOP counter of pytorch/vision PR #6936 (after Chillee's
counter), which maps convolutions and matrix products (conv, mm, addmm, bmm) at one per
multiply-accumulate and leaves every other op (batch norm, activations, pooling, softmax,
additions) uncounted. So the figure is MACs of the Conv, Gemm, MatMul and Einsum layers, in units
of 1e9, rounded to 3 decimals: the tolerance is half a unit in the last place, 0.0005e9 MACs.
Pooling layers and vector work are not in the compared total (as they are not in the figure).

Needs onnx only (not torch); without it these tests skip, except under CI, where they fail."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.importers.onnx_import import onnx_workload_data, summarize

try:
    import onnx
except ImportError:  # skipped below (a failure under CI), without breaking the module's import
    onnx = None

pytestmark = pytest.mark.usefixtures("needs_onnx")  # conftest: skip without onnx, fail under CI


REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "onnx"
RECORD = json.loads((DATA / "torchvision_gflops.json").read_text())
MODELS = RECORD["models"]
HALF_ULP_GMACS = 0.0005   # _ops is published to 3 decimals


def test_every_classifier_has_a_model_file():
    """The export covered every classification model torchvision lists, at each evaluation size."""
    covered = {m["model"] for m in MODELS.values()}
    assert covered == set(RECORD["classifiers"])
    assert all((DATA / file).is_file() for file in MODELS)


def unpacked(file: str, folder: Path) -> Path:
    """The committed model (gzipped: the graphs' long node names compress about 10x) as a .onnx file."""
    path = folder / file.removesuffix(".gz")
    path.write_bytes(gzip.decompress((DATA / file).read_bytes()))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("file", sorted(MODELS))
def test_macs_match_published_gflops(file, tmp_path):
    entry = MODELS[file]
    summary = summarize(onnx_workload_data(unpacked(file, tmp_path)))
    assert summary["macs"] > 0
    assert abs(summary["macs"] / 1e9 - entry["gflops"]) <= HALF_ULP_GMACS, \
        f"{file} ({', '.join(entry['weights'])}): {summary['macs']:,} MACs vs published {entry['gflops']} GFLOPS"


@pytest.mark.slow
def test_run_an_onnx_model_directly(tmp_path):
    """`accelsim run ARCH MODEL.onnx`: the report's MAC total is the import's (pooling windows
    included, as in every workload), and the vector work is reported beside it."""
    file = unpacked("resnet18_224.onnx.gz", tmp_path)
    summary = summarize(onnx_workload_data(file))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "accelsim.cli", "run", str(REPO / "arch" / "simba_like.yaml"),
                          str(file), "--json", str(tmp_path / "r.json")],
                         check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800)
    assert run.returncode == 0, run.stderr
    assert f"totals: {summary['macs'] + summary['pool_window_ops']:,} MACs" in run.stdout
    assert f"vector work (counted, not simulated; not in the MAC totals): {summary['vector_elements']:,}" in run.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert len(result["layers"]) == summary["layers"]
