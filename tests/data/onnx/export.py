"""Export every torchvision classification model to a small ONNX file, weights stripped, and
record torchvision's published GFLOPS figure for each (run offline; the tests need only onnx).

    python tests/data/onnx/export.py            # in a venv with torch, torchvision and onnx

For every classification model (torchvision.models.list_models(module=torchvision.models)) and
every distinct evaluation size among its weights (the weights' ``transforms().crop_size``), the
model is built with ``weights=None`` (random init: no download), put in eval mode and exported
with the TorchScript exporter at batch 1 to ``<model>_<size>.onnx.gz`` (gzipped ONNX). Every tensor of more than
``KEEP_ELEMENTS`` elements (the weights) is then turned into an external-data reference whose
file is never written: the ONNX file keeps each tensor's name, type and shape, which is all
shape inference and a MAC count need, and stays small. Shape-carrying tensors (Reshape targets,
Slice bounds) are small and stay inline.

``torchvision_gflops.json`` records, per file, the weights it stands for and their
``meta['_ops']`` (published GFLOPS) and input size, with the torch and torchvision versions.
"""
from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import onnx
import torch
import torchvision
import torchvision.models as tvm

HERE = Path(__file__).resolve().parent
KEEP_ELEMENTS = 64
OPSET = 17


def strip(model: onnx.ModelProto) -> None:
    """Drop the values of every large tensor (initializers and Constant attributes), keep shapes."""
    def tensors():
        yield from model.graph.initializer
        for node in model.graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    yield attr.t
    for tensor in tensors():
        elements = 1
        for d in tensor.dims:
            elements *= d
        if elements > KEEP_ELEMENTS:
            for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
                tensor.ClearField(field)
            del tensor.external_data[:]
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "stripped-weights.bin"  # never written
            tensor.data_location = onnx.TensorProto.EXTERNAL
    model.graph.doc_string = ""
    model.doc_string = ""
    for node in model.graph.node:
        node.doc_string = ""


def build(name: str, size: int):
    kwargs = {}
    if name.startswith("vit_"):
        kwargs["image_size"] = size  # ViT's position embedding is sized by image_size
    return tvm.get_model(name, weights=None, **kwargs).eval()


def main(only=()) -> int:
    torch.manual_seed(0)
    record = {"torch": torch.__version__, "torchvision": torchvision.__version__, "opset": OPSET,
              "source": "torchvision weights meta: '_ops' (GFLOPS, published to 3 decimals) and "
                        "transforms().crop_size; models built with weights=None",
              "classifiers": tvm.list_models(module=tvm), "models": {}}
    out_json = HERE / "torchvision_gflops.json"
    if only and out_json.exists():
        record["models"] = json.loads(out_json.read_text())["models"]
    for name in tvm.list_models(module=tvm):
        if only and name not in only:
            continue
        by_size: dict[int, list] = {}
        for weights in tvm.get_model_weights(name):
            size = weights.transforms().crop_size[0]
            by_size.setdefault(size, []).append(weights)
        for size, weights_list in sorted(by_size.items()):
            ops = {str(w): w.meta["_ops"] for w in weights_list}
            if len(set(ops.values())) != 1:
                print(f"{name} @ {size}: weights disagree {ops}", file=sys.stderr)
            file = f"{name}_{size}.onnx.gz"
            t = time.time()
            model = build(name, size)
            x = torch.zeros(1, 3, size, size)
            path = HERE / file
            with tempfile.TemporaryDirectory() as tmp:  # a model over 2 GB exports its weights as files
                # Not under no_grad: there nn.MultiheadAttention takes a fused fast path that the
                # exporter cannot write; with gradients on it runs (and exports) its MatMuls.
                torch.onnx.export(model, (x,), f"{tmp}/model.onnx", dynamo=False, opset_version=OPSET,
                                  input_names=["input"], output_names=["logits"])
                proto = onnx.load(f"{tmp}/model.onnx", load_external_data=False)
            strip(proto)
            # gzip (no timestamp): the graphs' node names compress about 10x
            path.write_bytes(gzip.compress(proto.SerializeToString(), 9, mtime=0))
            record["models"][file] = {"model": name, "input": [1, 3, size, size],
                                      "weights": sorted(ops), "gflops": weights_list[0].meta["_ops"]}
            print(f"{file}: {path.stat().st_size / 1024:.0f} KiB, {time.time() - t:.1f} s", flush=True)
    out_json.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(tuple(sys.argv[1:])))
