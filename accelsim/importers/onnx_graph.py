"""Reading an ONNX model: the hardened file read, symbolic dims bound, onnx's shape inference,
and which tensors are constants. Needs the optional package onnx (`pip install 'accelsim[onnx]'`).

Weight values are never needed: a MAC count depends on shapes only, so large tensors are dropped
right after parsing (an initializer whose data lives in an external file is read as its shape).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..errors import Problem, SpecError
from ..spec.files import read_bytes, short
from .onnx_fold import infer_shapes

MAX_ONNX_BYTES = 2**31 - 1   # protobuf's own limit on one message
ONNX_EXTRA = "onnx"          # the optional-dependency group in pyproject.toml
_DROP_ELEMENTS = 64          # tensors larger than this lose their values (shape-carrying ones are small)


def require_onnx():
    """The onnx module, or a SpecError naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise SpecError(Problem("reading ONNX models needs the optional package 'onnx', which is not "
                                "installed", suggestion=f"pip install 'accelsim[{ONNX_EXTRA}]' "
                                "(or pip install onnx)")) from None
    return onnx


@dataclass
class Graph:
    """A shape-inferred ONNX graph: nodes in order, each tensor's shape, the constant tensors."""

    path: str
    nodes: list                  # onnx.NodeProto, topologically ordered
    shapes: dict[str, tuple[int, ...]]
    static: set[str]             # initializers, Constant outputs and what is computed from them alone
    opset: int
    producer: str

    def shape(self, name: str, node) -> tuple[int, ...]:
        if name not in self.shapes:
            raise _err(self.path, f"node '{node_label(node)}' ({node.op_type}): the shape of tensor "
                       f"'{short(name, 60)}' is unknown after shape inference",
                       "give every graph input a fixed shape (--dim NAME=VALUE for symbolic dims), or "
                       "run onnx.shape_inference / onnxsim on the model first")
        return self.shapes[name]


def node_label(node) -> str:
    return node.name or (node.output[0] if node.output else node.op_type)


def _err(path, message, suggestion=None, key="", allowed=()):
    return SpecError(Problem(message, str(path), None, key, tuple(allowed), suggestion))


def read_graph(path, dims: dict[str, int] | None = None) -> Graph:
    """Parse `path` (through the hardened reader), bind symbolic input dims from `dims`, infer shapes."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError

    data = read_bytes(path, MAX_ONNX_BYTES)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise _err(path, f"not an ONNX model: the protobuf does not parse ({short(exc, 120)})",
                   "give a .onnx file saved by onnx.save or torch.onnx.export") from None
    del data
    if not model.graph.node:
        raise _err(path, "not an ONNX model, or an empty one: the graph has no nodes",
                   "give a .onnx file saved by onnx.save or torch.onnx.export")
    _drop_values(model, onnx)
    _bind_dims(model, dims or {}, path)

    def failed(node, message):
        return _err(path, f"node '{node_label(node)}' ({node.op_type}): onnx shape inference failed: "
                    f"{short(message, 300)}", "check the model with onnx.checker.check_model")
    shapes = infer_shapes(model, onnx, failed)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    graph = model.graph
    static = {init.name for init in graph.initializer} | {""}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    shapes[node.output[0]] = tuple(int(d) for d in attr.t.dims)
        if _is_static(node, static):
            static.update(node.output)
    return Graph(str(path), list(graph.node), shapes, static, opset, model.producer_name)


def _is_static(node, static: set[str]) -> bool:
    """A node computes a constant: no inputs (Constant), only shapes (Shape, Size), or only constants."""
    if node.op_type in ("Shape", "Size"):
        return True
    return all(name in static for name in node.input)


def _drop_values(model, onnx) -> None:
    """Forget the values of large tensors: only shapes matter, and inference then stays cheap."""
    def tensors():
        yield from model.graph.initializer
        for node in model.graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    yield attr.t
    for tensor in tensors():
        if prod(tensor.dims) > _DROP_ELEMENTS:
            for name in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
                tensor.ClearField(name)
            del tensor.external_data[:]
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "not-read"
            tensor.data_location = onnx.TensorProto.EXTERNAL


def _bind_dims(model, dims: dict[str, int], path) -> None:
    """Give every graph input a fixed shape: symbolic dims from `dims`; anything left is an error."""
    initializers = {init.name for init in model.graph.initializer}
    unknown, used = [], set()
    for inp in model.graph.input:
        if inp.name in initializers or not inp.type.HasField("tensor_type"):
            continue
        for d in inp.type.tensor_type.shape.dim:
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            if d.HasField("dim_param") and d.dim_param in dims:
                used.add(d.dim_param)
                d.dim_value = dims[d.dim_param]   # clears dim_param (a oneof)
            else:
                unknown.append(f"{short(inp.name, 40)}: {d.dim_param or '?'}")
    if unknown:
        named = sorted({u.split(': ')[1] for u in unknown} - {"?"})
        raise _err(path, "graph inputs have dims without a value: " + ", ".join(unknown),
                   (f"bind them, e.g. --dim {named[0]}=1" if named else
                    "export the model with fixed input shapes"), allowed=("--dim NAME=VALUE",))
    extra = sorted(set(dims) - used)
    if extra:
        raise _err(path, f"--dim names no symbolic input dim of this model: {', '.join(extra)}",
                   allowed=tuple(sorted(_symbolic_dims(model))) or ("(the model has none)",))


def _symbolic_dims(model) -> set[str]:
    return {d.dim_param for inp in model.graph.input if inp.type.HasField("tensor_type")
            for d in inp.type.tensor_type.shape.dim if d.HasField("dim_param")}
