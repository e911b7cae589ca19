"""The load-imbalance table of docs/sparsity.md ("The cycle model under sparsity"): BERT-Base and
ResNet-50 with every weight layer's skipping leader at several densities, on arch/sparse_tc_like.yaml
and on Sparseloop's Eyeriss-like on-chip-compression example (imported from
../shared/timeloop_refcases/S_04.2.3-eyeriss-like-onchip-compression, edited as `eyeriss_s04()` says).

    PYTHONPATH=. python benchmarks/bench_sparse_imbalance.py [sparse_tc|eyeriss_s04] [bert_base|resnet50] [ROWS]
"""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import accelsim
from accelsim.spec.files import allow_paths

REPO = Path(__file__).resolve().parents[1]
REFCASE = REPO.parent / "shared" / "timeloop_refcases" / "S_04.2.3-eyeriss-like-onchip-compression"
DENSITIES = (0.1, 0.2, 0.3, 0.5)


def eyeriss_s04(tmp: Path, compressed: bool = True) -> Path:
    """The imported example with three edits for real layers: accelsim's own counting (the cycle model
    does not reproduce Timeloop's convention), each format's ranks flattened over all of a tensor's dims
    (`'*'`: the example names its problem's dims, not a layer's), and metadata storage deep enough for a
    ResNet-50 tile (ifmap_spad 4 → 64 words, shared_glb 4096 → 65536)."""
    from accelsim.importers.timeloop import import_timeloop
    folder = REFCASE
    imp = import_timeloop(folder / "inputs" / "arch.yaml", folder / "inputs" / "problem.yaml", tmp,
                          folder / "ref" / "timeloop-mapper.map.yaml", folder / "ref" / "timeloop-mapper.ERT.yaml")
    text = Path(imp.arch_path).read_text().replace("counting: timeloop\n", "")
    text = re.sub(r"flatten: \[[a-z, ]+\]", "flatten: ['*']", text)
    if not compressed:  # for N:M inputs, whose groups its tiles split: no formats, the weights spad's skipping only
        text = re.sub(r"    sparse:\n      formats:\n(?:      .*\n)+", "", text)
    out = tmp / ("eyeriss_s04.yaml" if compressed else "eyeriss_s04_uncompressed.yaml")
    out.write_text(text)
    return out


def workload(base: Path, role: str, spec: str, tmp: Path):
    wl = accelsim.load_workload(base)
    lines = [f"extends: {base}", f"name: {base.stem}_sparse", "set:"]
    for l in wl.layers:
        if l.einsum.tensor("weights") is not None:  # N:M along the reduction: a conv's c, a matmul's k
            axis = "c" if "c" in l.einsum.tensor(role).dims else "k"
            if "AXIS" in spec and l.einsum.bound[axis] % 4:
                continue  # as workloads/resnet50_2of4.yaml: conv1 (c = 3) stays dense
            lines.append(f"  layers.{l.name}.sparsity: {{{role}: {spec.replace('AXIS', axis)}}}")
    path = tmp / "w.yaml"
    path.write_text("\n".join(lines) + "\n")
    with allow_paths([base.parent]):
        return accelsim.load_workload(path)


def main(which: str, network: str, only: str = "") -> None:
    """`only`: a comma-separated subset of the rows' labels (dense,10%,20%,30%,50%,2:4)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if which == "sparse_tc":
            arch, role = accelsim.load_arch(REPO / "arch" / "sparse_tc_like.yaml"), "weights"
        else:
            arch = accelsim.load_arch(eyeriss_s04(tmp), ["levels.ifmap_spad.sparse.metadata_depth=64",
                                                         "levels.shared_glb.sparse.metadata_depth=65536"])
            role = "inputs"   # its weights spad skips weights on zero inputs
        specs = [("dense", "{distribution: dense}")]
        specs += [(f"{d:.0%}", f"{{distribution: hypergeometric, density: {d}}}") for d in DENSITIES]
        specs.append(("2:4", "{distribution: structured, n: 2, m: 4, axis: AXIS}"))
        print(f"| {which} | {network} ({role}) | analytical | cycle | balanced | imbalance |")
        for label, spec in specs:
            if only and label not in only.split(","):
                continue
            t = time.time()
            wl = workload(REPO / "workloads" / f"{network}.yaml", role, spec, tmp)
            try:
                a = accelsim.simulate(arch, wl)
                c = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"))
            except accelsim.SpecError as exc:  # e.g. N:M inputs compressed in tiles that split its groups
                print(f"| {label} | refused: {str(exc).splitlines()[-2].strip()} |")
                if which == "sparse_tc" or "AXIS" not in spec:
                    continue
                arch = accelsim.load_arch(eyeriss_s04(tmp, False))
                label += " (stored uncompressed)"
                a = accelsim.simulate(arch, wl)
                c = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"))
            balanced = sum(l.extra["cycle_model"]["balanced_cycles"] * l.count for l in c.layers)
            worst = max(l.extra["load_imbalance"] for l in c.layers)
            print(f"| {label} | | {a.cycles:,} | {c.cycles:,} | {balanced:,} | {c.cycles / balanced:.3f} "
                  f"(layer max {worst:.2f}) |  {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["sparse_tc", "bert_base"]))
