"""How far each shipped arch's own template is from the mapper, in energy (docs/dataflows.md's table).

Run:  python benchmarks/template_gap.py [--no-cache]
Whole networks, analytical model, the mapper's default objective (EDP) under the arch's own
constraints; the ratio is template energy ÷ mapper energy (1.00: the template is as good).
Searches are kept in the default search cache, so a second run takes seconds.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import accelsim
from accelsim.cli.commands import default_search_cache
from accelsim.options import SimOptions

REPO = Path(__file__).resolve().parents[1]
# (arch, workloads its template is meant for)
PAIRS = [
    ("eyeriss_like", ["alexnet", "vgg16"]),
    ("simba_like", ["resnet50", "bert_base"]),
    ("tpu_like", ["resnet50", "bert_base"]),
    ("simple_ws", ["resnet50"]),
    ("simple_os", ["resnet50"]),
    ("vsquant_5nm", ["resnet50_vsquant"]),
]


def gap(arch_name: str, workload_name: str, cache) -> tuple[str, float, float]:
    arch = accelsim.load_arch(REPO / "arch" / f"{arch_name}.yaml")
    workload = accelsim.load_workload(REPO / "workloads" / f"{workload_name}.yaml")
    template = accelsim.simulate(arch, workload, SimOptions(dataflow=arch.dataflow))
    mapper = accelsim.simulate(arch, workload, SimOptions(dataflow="search"), search_cache=cache)
    return arch.dataflow, template.energy_pj, mapper.energy_pj


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="search afresh")
    parser.add_argument("--arch", action="append", help="only this arch's pairs (repeatable)")
    args = parser.parse_args()
    cache = None if args.no_cache else default_search_cache()
    print("| arch | workload | template | template ÷ mapper energy |")
    print("|---|---|---|---|")
    for arch_name, workloads in PAIRS:
        if args.arch and arch_name not in args.arch:
            continue
        for workload_name in workloads:
            dataflow, template_pj, mapper_pj = gap(arch_name, workload_name, cache)
            print(f"| {arch_name} | {workload_name} | {dataflow} | {template_pj / mapper_pj:.2f} |", flush=True)


if __name__ == "__main__":
    main()
