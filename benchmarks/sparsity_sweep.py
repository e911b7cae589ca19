"""Energy per MAC and cycles vs weight density on arch/sparse_tc_like.yaml (docs/sparsity.md).

Sweeps the weight density of BERT-Base (seq 128) and ResNet-50 on the sparse-tensor-core-like arch:
structured 2:4, 1:4, 1:8 along the reduction dim and unstructured (hypergeometric) 10-50 %, each
with the arch's skipping (the LRF skips the activation and the MAC behind a zero weight) and with
gating instead (the MAC idles on a zero weight in its slot, the activation is still read: MAC
energy saved, cycles not). The weights
of the layers the 2:4 workloads prune get the density model (workloads/bert_base_2of4.yaml,
resnet50_2of4.yaml: BERT's linear layers, ResNet-50's convs but conv1, and its fc); the rest stays
dense. Whole networks, analytical model, the arch's own dataflow template.

    PYTHONPATH=. python benchmarks/sparsity_sweep.py [--out docs/img] [--table docs/img/sparsity_sweep.md]

writes docs/img/sparsity_energy_cycles.png and a markdown table (stdout, and --table).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

import accelsim
from accelsim.sparse.density import Hypergeometric, StructuredNM

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "sparse_tc_like.yaml"
NETWORKS = {"BERT-Base": "bert_base_2of4.yaml", "ResNet-50": "resnet50_2of4.yaml"}
STRUCTURED = [(2, 4), (1, 4), (1, 8)]
UNSTRUCTURED = [0.5, 0.4, 0.3, 0.2, 0.1]


def arches() -> dict:
    """The arch as shipped (skipping) and the same arch gating instead: no storage optimization,
    the MAC idles on a zero weight (gate_on_zero_operand) and keeps its cycle; an idle MAC costs
    0 pJ, as arch/eyeriss_v1_zeros.yaml prices it (no source prices the zero detect), and the
    activation is still read."""
    text = ARCH.read_text()
    tmp = Path(tempfile.mkdtemp())
    spec = yaml.safe_load(text)
    lrf = next(lv["memory"] for lv in spec["levels"] if lv.get("memory", {}).get("name") == "LRF")
    assert lrf.pop("sparse") == {"skipping": [{"target": "inputs", "condition_on": ["weights"]}]}
    spec["levels"][-1]["compute"]["sparse"] = {"gate_on_zero_operand": True, "energy": {"gated_compute": "0pJ"}}
    spec["name"] = "sparse_tc_like_gating"
    gating = yaml.safe_dump(spec, sort_keys=False)
    (tmp / "gating.yaml").write_text(gating)
    return {"skipping": accelsim.load_arch(ARCH), "gating": accelsim.load_arch(tmp / "gating.yaml")}


def with_weights(wl, model_for):
    """The workload with each pruned layer's weights under model_for(layer) (None: dense)."""
    layers = []
    for layer in wl.layers:
        pruned = any(role == "weights" for role, _ in layer.sparsity)
        if not pruned:
            layers.append(layer)
            continue
        model = model_for(layer)
        rest = tuple((r, m) for r, m in layer.sparsity if r != "weights")
        layers.append(replace(layer, sparsity=rest + ((("weights", model),) if model else ())))
    return replace(wl, layers=tuple(layers))


def structured(n, m):
    def model(layer):
        axis = next(mdl.axis for role, mdl in layer.sparsity if role == "weights")
        return StructuredNM(n, m, axis)
    return model


def unstructured(density):
    def model(layer):
        return Hypergeometric(density, layer.einsum.tensor_size("weights"))
    return model


def sweep() -> list[dict]:
    rows = []
    archs = arches()
    for net, file in NETWORKS.items():
        wl = accelsim.load_workload(ROOT / "workloads" / file)
        cases = [("dense", 1.0, lambda layer: None)]
        cases += [(f"{n}:{m}", n / m, structured(n, m)) for n, m in STRUCTURED]
        cases += [(f"unstructured {d:.0%}", d, unstructured(d)) for d in UNSTRUCTURED]
        for mode, arch in archs.items():
            for label, density, model_for in cases:
                if label == "dense" and mode == "gating":
                    rows.append(dict(next(r for r in rows if r["net"] == net and r["case"] == "dense"), mode=mode))
                    continue
                res = accelsim.simulate(arch, with_weights(wl, model_for))
                row = {"net": net, "mode": mode, "case": label, "density": density,
                       "kind": "dense" if label == "dense" else label.split()[0] if "unstr" in label else "N:M",
                       "cycles": res.cycles, "energy_pj": res.energy_pj, "macs": res.macs}
                rows.append(row)
                print(f"{net:9s} {mode:8s} {label:17s} cycles {res.cycles:>12,} "
                      f"pJ/MAC {res.energy_pj / res.macs:.3f}", file=sys.stderr)
    return rows


def table(rows) -> str:
    dense = {r["net"]: r for r in rows if r["case"] == "dense" and r["mode"] == "skipping"}
    head = ("| network | weights | density | skipping: cycles / dense | skipping: pJ/MAC | "
            "gating: cycles / dense | gating: pJ/MAC |")
    out = [head, "|---|---|---|---|---|---|---|"]
    for net in NETWORKS:
        for case in dict.fromkeys(r["case"] for r in rows if r["net"] == net):
            s, g = (next(r for r in rows if r["net"] == net and r["case"] == case and r["mode"] == m)
                    for m in ("skipping", "gating"))
            d = dense[net]
            out.append(f"| {net} | {case} | {s['density']:.3f} | {s['cycles'] / d['cycles']:.3f} | "
                       f"{s['energy_pj'] / s['macs']:.3f} | {g['cycles'] / d['cycles']:.3f} | "
                       f"{g['energy_pj'] / g['macs']:.3f} |")
    return "\n".join(out)


def plot(rows, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for col, net in enumerate(NETWORKS):
        dense = next(r for r in rows if r["net"] == net and r["case"] == "dense")
        for mode, style in (("skipping", "-"), ("gating", "--")):
            for kind, marker in (("N:M", "s"), ("unstructured", "o")):
                pts = sorted((r for r in rows if r["net"] == net and r["mode"] == mode
                              and r["kind"] in (kind, "dense")), key=lambda r: r["density"])
                x = [r["density"] for r in pts]
                label = f"{kind}, {mode}"
                axes[0][col].plot(x, [r["energy_pj"] / r["macs"] for r in pts], style, marker=marker, label=label)
                axes[1][col].plot(x, [r["cycles"] / dense["cycles"] for r in pts], style, marker=marker, label=label)
        axes[0][col].set_title(f"{net} on sparse_tc_like")
        axes[0][col].set_ylabel("energy per (dense) MAC, pJ")
        axes[1][col].set_ylabel("cycles / dense cycles")
        axes[1][col].set_xlabel("weight density (of the pruned layers)")
        for ax in (axes[0][col], axes[1][col]):
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sparsity_energy_cycles.png"
    fig.savefig(path, dpi=110)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--table", type=Path, default=None, help="also write the markdown table here")
    args = ap.parse_args(argv)
    rows = sweep()
    md = table(rows)
    print(md)
    if args.table:
        args.table.write_text(md + "\n")
    print(f"wrote {plot(rows, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
