"""ONNX model → accelsim workload: `accelsim import onnx MODEL --out FILE.yaml`, and
`accelsim run ARCH MODEL.onnx` directly (docs/onnx.md).

Conv, Gemm and MatMul become MAC layers; pooling becomes pool layers (one-operand, as pool2d);
elementwise, activation, normalization and reduction ops become the workload's `vector:` work
(element operations, counted, never fed to the MAC models); layout ops (Reshape, Transpose,
Concat, ...) and nodes computing constants do no work. Any other op is refused by name.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import Problem, SpecError
from ..spec.files import short
from .onnx_graph import Graph, node_label, read_graph
from .onnx_ops import (
    LAYOUT_OPS,
    MAC_OPS,
    POOL_OPS,
    SUPPORTED,
    TRANSLATORS,
    vector_elements,
)

__all__ = ["OnnxImport", "import_onnx", "onnx_workload_data"]


@dataclass(frozen=True)
class OnnxImport:
    workload_path: Path
    data: dict            # the workload spec written
    summary: dict         # counts by kind, for the command's report


def onnx_workload_data(path, dims: dict[str, int] | None = None, name: str | None = None) -> dict:
    """The workload spec (YAML data) of an ONNX model; SpecError on anything it cannot translate."""
    graph = read_graph(path, dims)
    _check_ops(graph)
    layers, vector, names, macs_found = [], [], Counter(), False
    for node in graph.nodes:
        if node.op_type in LAYOUT_OPS or (all(t in graph.static for t in node.input) and
                                          node.op_type not in MAC_OPS):
            continue   # moves or reshapes data, or computes a constant: no work at run time
        label = _unique(node_label(node).lstrip("/") or node.op_type, names)
        entry = TRANSLATORS[node.op_type](node, graph) if node.op_type in TRANSLATORS else None
        if entry is not None:
            layers.append({"name": label, **entry})
            macs_found |= node.op_type in MAC_OPS
        else:
            vector.append({"name": label, "op": node.op_type, "elements": vector_elements(node, graph)})
    if not macs_found:
        raise SpecError(Problem("the model has no Conv, Gemm, MatMul or Einsum node: no MAC layers to simulate",
                                graph.path, allowed=MAC_OPS))
    inputs = ", ".join(f"{n}{list(s)}" for n, s in _input_shapes(graph).items())
    data = {"name": name or Path(path).stem,
            "description": f"imported from ONNX model {Path(path).name} (inputs {inputs}; "
                           f"opset {graph.opset}" + (f", producer {graph.producer}" if graph.producer else "") + ")",
            "source": str(path), "layers": layers}
    if vector:
        data["vector"] = vector
    return data


def _input_shapes(graph: Graph) -> dict:
    consumed = {t for node in graph.nodes for t in node.input}
    produced = {t for node in graph.nodes for t in node.output}
    return {t: graph.shapes[t] for t in sorted(consumed - produced - graph.static) if t in graph.shapes}


def _unique(label: str, seen: Counter) -> str:
    label = short(label, 120)
    seen[label] += 1
    return label if seen[label] == 1 else f"{label}#{seen[label]}"


def _check_ops(graph: Graph) -> None:
    """Every op is one accelsim knows, in the standard domain; all unknown ones reported at once."""
    problems, seen = [], set()
    for node in graph.nodes:
        key = (node.domain, node.op_type)
        if key in seen:
            continue
        if node.domain not in ("", "ai.onnx"):
            seen.add(key)
            problems.append(Problem(f"node '{node_label(node)}': op {node.domain}::{node.op_type} is "
                                    f"outside the standard ONNX domain", graph.path,
                                    suggestion="export without custom ops (standard ONNX operators only)"))
        elif node.op_type not in SUPPORTED:
            seen.add(key)
            problems.append(Problem(f"node '{node_label(node)}': ONNX op {node.op_type} is not supported",
                                    graph.path, allowed=("MAC: " + ", ".join(MAC_OPS),
                                                         "pooling: " + ", ".join(POOL_OPS),
                                                         "vector work and layout ops: see docs/onnx.md"),
                                    suggestion="docs/onnx.md lists what each op becomes"))
    if problems:
        raise SpecError(problems)


def summarize(data: dict) -> dict:
    """MACs by layer kind, pooling window operations and vector elements by op, from the loaded workload."""
    from ..load import workload_from_data

    workload = workload_from_data(data, data.get("source", "<onnx>"))
    macs = sum(l.einsum.macs * l.count for l in workload.layers if l.einsum.tensor("weights") is not None)
    window = sum(l.einsum.macs * l.count for l in workload.layers if l.einsum.tensor("weights") is None)
    by_op = Counter()
    for v in workload.vector:
        by_op[v.op] += v.elements * v.count
    return {"layers": len(workload.layers), "macs": macs, "pool_window_ops": window,
            "vector_ops": len(workload.vector), "vector_elements": workload.vector_elements,
            "vector_by_op": dict(by_op.most_common())}


def import_onnx(path, out, dims: dict[str, int] | None = None) -> OnnxImport:
    """Write the workload YAML of an ONNX model to `out` (a .yaml file)."""
    from ..files import write_atomic

    data = onnx_workload_data(path, dims, Path(out).stem)
    summary = summarize(data)
    header = (f"# Written by accelsim import onnx from {Path(path).name}. MAC layers: Conv, Gemm, MatMul;\n"
              f"# pooling: one-operand layers; vector: elementwise and normalization work (counted, not\n"
              f"# simulated); layout ops do no work. Totals: {summary['macs']:,} MACs, "
              f"{summary['vector_elements']:,} vector element operations.\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, header + yaml.safe_dump(data, sort_keys=False, width=120))
    return OnnxImport(Path(out), data, summary)
