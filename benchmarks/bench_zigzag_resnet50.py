#!/usr/bin/env python3
"""ZigZag (pip package zigzag-dse) on ResNet-50, as its users run it: the ONNX model through
`zigzag.api.get_hardware_performance_zigzag` on ZigZag's own TPU-like 32×32 arch and mapping
(zigzag/inputs/hardware/tpu_like.yaml: a 32 × 32 MAC array, K × C unrolled, 2 MB SRAM, DRAM),
latency as its objective (LOMA's temporal-mapping search per layer, lpf_limit 6, ZigZag's default).

Run it with ZigZag's own venv (never an accelsim dependency; zigzag-dse 3.9.1 also needs six):

    python -m venv /work/venv-zigzag && /work/venv-zigzag/bin/pip install zigzag-dse six onnx
    /work/venv-zigzag/bin/python benchmarks/bench_zigzag_resnet50.py [MODEL.onnx[.gz]]

The default model is tests/data/onnx/resnet50_224.onnx.gz (torchvision's ResNet-50, batch 1, weights
stripped: names and shapes kept, which is all ZigZag's parser reads). Prints one line: ZigZag's
energy (pJ), latency (cycles) and its own wall time. bench_scalesim_resnet50.py times this script
as a whole process beside accelsim's.
"""
from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "tests" / "data" / "onnx" / "resnet50_224.onnx.gz"


def load_model(path: Path) -> onnx.ModelProto:
    """The model with its stripped weights' dangling external-data references dropped (shapes kept)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    model = onnx.load_from_string(data)
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
    return onnx.shape_inference.infer_shapes(model)


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    from zigzag import inputs
    from zigzag.api import get_hardware_performance_zigzag

    model = load_model(Path(args[0]) if args else DEFAULT_MODEL)
    base = Path(next(iter(inputs.__path__)))
    with tempfile.TemporaryDirectory() as out:
        energy, latency, _ = get_hardware_performance_zigzag(
            model, str(base / "hardware" / "tpu_like.yaml"), str(base / "mapping" / "tpu_like.yaml"),
            opt="latency", dump_folder=out, loma_show_progress_bar=False)
    print(f"ZigZag ResNet-50 on tpu_like 32x32: energy {energy:.6g} pJ, latency {latency:.6g} cycles, "
          f"{time.perf_counter() - start:.1f} s in-process")


if __name__ == "__main__":
    main()
