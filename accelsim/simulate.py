"""The pipeline: spec objects → mapping → lowered arrays → model → counts → energy → result."""
from __future__ import annotations

import logging
import multiprocessing
from dataclasses import replace
from functools import cache, lru_cache

from .counting.records import OK
from .energy.activity import held_operand, layer_activity
from .energy.formats import density_in_format, format_energies_pj
from .energy.model import action_energies, layer_energy
from .errors import MappingError, Problem, SpecError
from .ir.arch import Arch, with_precision
from .ir.workload import Density, Layer, Workload, pad_einsum
from .mapping.dataflows import map_layer, template_padding
from .mapping.lower import lower
from .mapping.mapping import Mapping, check_mapping
from .mapping.ragged import padded_candidates
from .model.packed import evaluate_packed, lowest_scoring, pack_problem
from .model.analytical import analyze
from .model.performance import performance_model
from .options import SimOptions
from .residency import apply_residency, check_model
from .sparse.run import is_sparse, sparse_layer
from .results import LayerResult, WorkloadResult, off_chip_levels


def simulate(arch: Arch, workload: Workload, options: SimOptions = SimOptions(),
             mappings: dict[str, Mapping] | None = None, inputs: dict | None = None,
             search_cache=None, progress=None, map_template=None, search_processes: int = 1) -> WorkloadResult:
    """Simulate every layer of `workload` on `arch`.

    `mappings` gives explicit per-layer mappings; other layers use `options.dataflow`.
    `search_cache`: a folder where the mapper keeps its results across runs (search/cache.py); it
    changes how long a run takes, never its result. `progress(done, total, layer_name, search)`
    is called after each layer (`search`: the mapper's MapperResult for it, or None).
    `map_template(arch, einsum, dataflow)`: what maps a layer by a template instead of
    `dataflows.map_layer`, which it must equal (the sweeps pass the jitted template kernel's,
    mapping/template_pack.map_layer_fast).
    `search_processes`: with more than one, the mapper searches the layers' distinct shapes in that
    many worker processes (forked: they inherit the loaded kernels) while the layers are simulated
    in order; the results are the same as searched one after another.
    """
    model = performance_model(options.performance_model)
    dataflow = options.dataflow or arch.dataflow or "search"  # no template named: the mapper decides
    if options.scalesim_compat and options.model not in ("cycle", "scalesim"):
        raise SpecError("scalesim_compat needs the cycle model (--model cycle)")
    model.check(arch, options)
    check_model(arch, options.performance_model)
    if options.density is not None and not 0.0 <= options.density <= 1.0:
        raise SpecError(f"density {options.density} is outside [0, 1]")
    pruned = [l.name for l in workload.layers if l.weight_nm and l.weight_nm[0] < l.weight_nm[1]]
    if pruned and not options.scalesim_compat:  # not counted dense in silence
        n, m = next(l.weight_nm for l in workload.layers if l.name == pruned[0])
        raise SpecError(f"layer '{pruned[0]}': weight_nm ({n}:{m}, SCALE-Sim's pruned weights) is modelled by "
                        f"--model cycle --scalesim-compat only; for the other models give the layer "
                        f"sparsity: {{weights: {{distribution: structured, n: {n}, m: {m}, axis: <a reduction dim>}}}} "
                        f"(docs/sparsity.md)")
    options = replace(options, dataflow=dataflow)
    if arch.constraint_names and dataflow != "search":  # the mapper checks them with its own (_mapper)
        from .search.constraints import check_names
        check_names(arch.constraint_names, workload.layers)
    search = _mapper(arch, options, search_cache, workload.layers, search_processes) if dataflow == "search" else None

    @lru_cache(maxsize=None)
    def arch_for(precision):  # the arch as it runs one number format, with its energies
        variant = with_precision(arch, precision)
        return variant, action_energies(variant)

    def prepared(layer: Layer):  # the layer as it runs (precision, density), with its arch and energies
        layer = replace(layer, precision=options.precision or layer.precision,
                        density=layer.density if options.density is None
                        else Density(options.density, options.density))
        try:
            layer_arch, energies = arch_for(layer.precision)
        except SpecError as exc:
            file, line, key = (("command line", None, "--precision") if options.precision
                               else workload.precision_source.get(layer.name, (None, None, "")))
            raise SpecError(Problem(f"layer '{layer.name}': {exc.problems[0].message}", file, line, key,
                                    suggestion=f"run it with --precision {arch.compute.format} or on an "
                                    "arch that supports it")) from None
        return replace(layer, density=density_in_format(layer.density, layer.precision or arch.compute.format)), \
            layer_arch, energies

    try:
        if search is not None and search_processes > 1:
            ahead = []
            for layer in workload.layers:
                if (mappings or {}).get(layer.name) is None:
                    try:
                        run, layer_arch, energies = prepared(layer)
                    except SpecError:  # raised in its turn by the loop below
                        break
                    ahead.append((layer_arch, run, energies))
            search.ahead(ahead)
        return _simulate_layers(arch, workload, options, mappings, inputs, map_template, model, search, prepared,
                                progress)
    finally:
        if search is not None:
            search.close()


def _simulate_layers(arch: Arch, workload: Workload, options: SimOptions, mappings, inputs, map_template, model,
                     search, prepared, progress) -> WorkloadResult:
    """simulate's layer loop, in order; `prepared(layer)`: (the layer as it runs, its arch, its energies)."""
    off_chip = frozenset(off_chip_levels(arch))
    layers, ran = [], []
    same = {}  # a template layer of a shape run before (ResNet-50: 30 of 54) copies its result
    for index, layer in enumerate(workload.layers):
        layer, layer_arch, energies = prepared(layer)
        mapping, found = (mappings or {}).get(layer.name), None
        if mapping is None and search is not None:
            found = search(layer_arch, layer, energies)
            mapping = found.mapping
        layer = _as_run(layer_arch, layer, options.dataflow, mapping)
        # Only its name and count differ. An arch's hardware constraints are per level (the arch file
        # has no per-layer entries: search/constraints.arch_constraints), so they hold for the copy too.
        key = None if mapping is not None else replace(layer, name="", count=1)
        if key is None or key not in same:
            done = simulate_layer(layer_arch, layer, options, model, mapping, energies, off_chip,
                                  {"mapper": found.summary()} if found else {}, map_template or map_layer)
            if key is not None:
                same[key] = done
        else:
            done = replace(same[key], name=layer.name, count=layer.count, extra=dict(same[key].extra))
        layers.append(done)
        ran.append(layer)
        if progress:
            progress(index + 1, len(workload.layers), layer.name, found)
    if arch.residency_level and any(is_sparse(arch, layer) for layer in ran):
        raise SpecError("inter-layer residency (residency:) and sparsity (sparse: levels, layer sparsity:) "
                        "are not modelled together; drop one of them")
    if arch.residency_level:  # activations left on chip between layers: a pass over the whole chain
        layers = apply_residency(arch, ran, layers, price_layer)
    return WorkloadResult(arch, workload.name, tuple(layers), options.as_dict(), inputs or {})


def _mapper(arch: Arch, options: SimOptions, cache_folder=None, layers=(), processes: int = 1):
    """The mapper for --dataflow search, with the constraints file's settings (those named in
    mapper_settings / mapper_seed replaced); a layer shape seen before (per number format and density) reuses
    its search, in this run and, with a cache folder, in later ones.

    `search(layer_arch, layer, energies)` returns a layer's MapperResult. `search.ahead(jobs)` (the
    same arguments, one tuple per layer) starts the distinct searches they need in `processes` worker
    processes, when there are two or more and processes > 1; `search` then waits for a layer's
    search there instead of running it. `search.close()` stops the workers."""
    from .load import load_constraints
    from .search.cache import SearchCache, canonical, search_key
    from .search.constraints import NO_CONSTRAINTS, check_against_workload, settings_from, with_hardware
    from .spec.schema import MapperSettingsSpec
    from .spec.validate import validate_model

    constraints = load_constraints(options.constraints_file, arch) if options.constraints_file else NO_CONSTRAINTS
    overrides = dict(options.mapper_settings or {})
    if options.mapper_seed is not None:
        overrides["seed"] = options.mapper_seed
    if overrides:  # parsed as a constraints file's mapper: block; only the keys given replace the file's
        given = validate_model(MapperSettingsSpec, overrides, "mapper settings")
        parsed = settings_from(given)
        constraints = replace(constraints, settings=replace(
            constraints.settings, **{key: getattr(parsed, key) for key in given.model_fields_set}))
    constraints = with_hardware(constraints, arch)
    for note in check_against_workload(constraints, layers):  # an unknown dims name raises
        logging.getLogger("accelsim.mapper").warning(note)
    found = {}
    cache = SearchCache(cache_folder) if cache_folder else None
    running = {}  # key -> a search in a worker process (AsyncResult), started by ahead
    workers = []  # the worker pool, while there is one

    def first_search(layer_arch: Arch, layer: Layer):
        """(the layer's own constraints, whether its first search is in the ragged mapspace)."""
        try:
            own = constraints.for_layer(layer.name, layer.run_einsum)
        except MappingError as exc:
            raise layer_error(layer, exc) from None
        return own, not ragged_refused(layer_arch, layer, options) and own.settings.rank != "cycle"

    def search(layer_arch: Arch, layer: Layer, energies):
        own, ragged = first_search(layer_arch, layer)
        best = searched(layer_arch, layer, energies, own, ragged)
        if ragged and _unwalked(layer_arch, layer, options, best.mapping):  # ragged tiles the walk refuses
            best = searched(layer_arch, layer, energies, own, False)
        return best

    def key_of(layer: Layer, own, ragged: bool):
        return (layer.run_einsum, layer.precision, layer.density, repr(canonical(own)), ragged)

    def searched(layer_arch: Arch, layer: Layer, energies, own, ragged: bool):
        key = key_of(layer, own, ragged)
        if key not in found:
            disk_key = cache and search_key(layer_arch, layer.run_einsum, energies, own, layer.density, ragged)
            elsewhere = running.pop(key, None)  # a worker's search (None: it failed, searched here to raise)
            result = elsewhere.get() if elsewhere is not None else cache and cache.get(disk_key)
            fresh = elsewhere is not None or result is None  # searched in this run: kept on disk
            if result is None:
                try:
                    result = _search_layer(constraints, layer_arch, layer, energies, own, ragged)
                except MappingError as exc:
                    raise layer_error(layer, exc) from None
            if cache and fresh:
                cache.put(disk_key, result)
            found[key] = result
        return found[key]

    def ahead(jobs) -> None:
        if processes < 2 or workers or multiprocessing.current_process().daemon \
                or "fork" not in multiprocessing.get_all_start_methods():
            return
        tasks = {}
        for layer_arch, layer, energies in jobs:
            try:
                own, ragged = first_search(layer_arch, layer)
            except MappingError:  # raised in its turn
                break
            key = key_of(layer, own, ragged)
            if key in found or key in tasks:
                continue
            hit = cache and cache.get(search_key(layer_arch, layer.run_einsum, energies, own, layer.density, ragged))
            if hit is not None:
                found[key] = hit
            else:
                tasks[key] = (layer_arch, layer, energies, own, ragged)
        if len(tasks) < 2:
            return
        global _AHEAD
        _AHEAD = (constraints, list(tasks.values()))
        try:  # forked now: the workers inherit _AHEAD and the kernels loaded so far
            workers.append(multiprocessing.get_context("fork").Pool(min(processes, len(tasks))))
        finally:
            _AHEAD = None
        logging.getLogger("accelsim.mapper").info(f"searching {len(tasks)} distinct layers in "
                                                  f"{min(processes, len(tasks))} processes")
        for index, key in enumerate(tasks):  # in the layers' order: the loop waits for them in that order
            running[key] = workers[0].apply_async(_search_ahead, (index,))

    def close() -> None:
        running.clear()
        while workers:
            workers.pop().terminate()  # idle by now unless the run stopped early

    search.ahead, search.close = ahead, close
    return search


_AHEAD = None  # (constraints, [(layer_arch, layer, energies, own, ragged)]): a search pool's work, while it forks


def _search_ahead(index: int):
    """In a worker process of _mapper's pool: the index-th search of _AHEAD, or None if it fails (the
    run searches that layer again in its turn, to raise the error there)."""
    if _AHEAD is None:  # a worker the pool started again after one died: the run searches it itself
        return None
    constraints, tasks = _AHEAD
    try:
        return _search_layer(constraints, *tasks[index])
    except MappingError:
        return None


def _search_layer(constraints, layer_arch: Arch, layer: Layer, energies, own, ragged: bool):
    """One layer's search under its own constraints `own`; `ragged`: in the ragged mapspace, and also
    the layer padded to the array's sides, run ragged (search/ragged.py)."""
    from .search.mapper import search_mapping
    from .search.ragged import search_with_ragged

    if ragged:
        return search_with_ragged(layer_arch, layer.run_einsum, energies, own, layer.density,
                                  lambda padded: constraints.for_layer(layer.name, padded))
    return search_mapping(layer_arch, layer.run_einsum, energies, own, layer.density)


def layer_error(layer: Layer, exc: MappingError) -> MappingError:
    """A layer's mapping error as a run reports it (the layer named)."""
    return MappingError(f"layer '{layer.name}': {exc}")


def check_hardware(arch: Arch, layer: Layer, mapping: Mapping) -> None:
    """A mapping the arch's hardware cannot run (its `constraints:`) is an error, not a result."""
    if not arch.constraints:
        return
    found = _violations(arch, layer, mapping)
    if found:
        raise MappingError(f"the {mapping.dataflow} mapping does what {arch.name}'s hardware cannot (its "
                           f"constraints: block): {'; '.join(found)}; use --dataflow search, which honours them")


def _violations(arch: Arch, layer: Layer, mapping: Mapping) -> list[str]:
    from .search.constraints import violations

    return violations(arch, mapping, _hardware_levels(arch.constraints, layer.run_einsum))


_RESOLVED: dict = {}  # repr of an arch's constraints -> {einsum: its levels resolved for the layer}
_RESOLVED_KEY: dict = {}  # id(constraints dict) -> (that dict, its repr)


def _hardware_levels(constraints: dict, einsum) -> dict:
    """The arch's constraints resolved for a layer (relevance classes → its dims), once per
    constraints and layer shape: a sweep checks every layer of every point, and its arch variants
    carry equal constraints (keyed by their repr: frozen dataclasses, so equal reprs are equal
    constraints). No layer entries, so the layer's name plays no part (Constraints.for_layer)."""
    from .search.constraints import Constraints

    known = _RESOLVED_KEY.get(id(constraints))
    if known is None or known[0] is not constraints:
        if len(_RESOLVED_KEY) >= 256:
            _RESOLVED_KEY.clear()
        known = _RESOLVED_KEY[id(constraints)] = (constraints, repr(constraints))
    if len(_RESOLVED) >= 64 and known[1] not in _RESOLVED:
        _RESOLVED.clear()
    resolved = _RESOLVED.setdefault(known[1], {})
    if einsum not in resolved:
        resolved[einsum] = Constraints(constraints).for_layer("", einsum).levels
    return resolved[einsum]


def _as_run(arch: Arch, layer: Layer, dataflow: str, mapping: Mapping | None) -> Layer:
    """The layer as the hardware computes it: a template that runs ragged strips pads it (the
    run's template, or the one that made the mapping; a mapping file's is the run's), unless a
    given mapping's factors are for the layer as written."""
    template = dataflow if mapping is None or mapping.dataflow == "explicit" else mapping.dataflow
    padded = pad_einsum(layer.run_einsum, template_padding(arch, layer.run_einsum, template))
    if padded is None or (mapping is not None and not _made_for(arch, padded, layer.run_einsum, mapping)):
        return layer
    return replace(layer, padded=padded)


def _made_for(arch: Arch, padded, einsum, mapping: Mapping) -> bool:
    """A given mapping is for the padded layer when it covers each padded dim at least to its padded
    size (a ragged candidate may cover more) and is legal there."""
    covered = mapping.factors()
    if any(covered.get(d, 1) < b for d, b in padded.bound.items() if b != einsum.bound[d]):
        return False
    try:
        check_mapping(arch, padded, mapping)
    except MappingError:
        return False
    return True


def simulate_layer(arch: Arch, layer: Layer, options: SimOptions, model, mapping: Mapping | None,
                   energies, off_chip, found: dict, map_template=map_layer, counted=None) -> LayerResult:
    """`model`: the performance model; `found`: what the mapper did for this layer (recorded beside
    the model's own extras); `counted`: the given mapping's PackedResult on this layer, if the
    caller has counted it (choose_template_counted's), not counted again."""
    einsum = layer.run_einsum
    try:
        if mapping is None:
            mapping, counted = choose_template_counted(arch, layer, options, energies, map_template)
        check_mapping(arch, einsum, mapping)
        check_hardware(arch, layer, mapping)
        nest = lower(arch, einsum, mapping)
        counts = analyze(arch, einsum, nest, result=counted)
    except MappingError as exc:
        raise layer_error(layer, exc) from None
    if counts.ragged:  # the analytical model's counts only
        _check_ragged(arch, layer, options, mapping)
    if is_sparse(arch, layer):  # Sparseloop's formats, gating and skipping: a pass over the counts
        sparse_cycles = getattr(model, "sparse_layer_cycles", None)
        if options.performance_model != "analytical" and sparse_cycles is None:
            raise SpecError(f"layer '{layer.name}': sparsity (sparse: levels, layer sparsity:) runs with the "
                            f"analytical and cycle models; the {options.performance_model} model is dense "
                            "(use --model analytical or --model cycle)")
        dense = counts
        cycles_of = None if options.performance_model == "analytical" else (
            lambda result: sparse_cycles(arch, layer, nest, dense, result))
        counts, cycles, energy, record, extra = sparse_layer(
            arch, layer, nest, dense, energies,
            lambda c, cyc: price_layer(arch, layer, mapping, c, energies, cyc),
            layer_activity(arch, layer.run_einsum, mapping, layer.density), cycles_of)
        if not extra:
            extra = model.layer_cycles(arch, layer, nest, dense)[1]
        extra = {**extra, "sparse": record}
    else:
        cycles, extra = model.layer_cycles(arch, layer, nest, counts)
        energy = price_layer(arch, layer, mapping, counts, energies, cycles)
    if counts.ragged:
        extra = {**extra, "ragged": ragged_dims(einsum, mapping)}
    return LayerResult(layer.name, layer.count, layer.einsum.macs, counts, energy, mapping, cycles,
                       arch.frequency_hz, arch.peak_macs_per_cycle, off_chip, {**extra, **found},
                       arch.compute.format, layer.density, energies=(arch, energies),
                       outputs=einsum.tensor_size("outputs"))


def choose_template_counted(arch: Arch, layer: Layer, options: SimOptions, energies, map_template=map_layer,
                            counted=None) -> tuple[Mapping, object]:
    """The template's mapping, or the template's mapping of the layer padded to the array's sides
    run ragged on the real layer (mapping/ragged.py), whichever has the lower energy-delay product
    (the mapper's default objective); ragged only where it is counted (_check_ragged). With it,
    where the choice counted it on this layer, its PackedResult (else None): simulate_layer then
    does not count the chosen mapping again. `map_template(arch, einsum, dataflow)`: the template
    (simulate's). `counted`: the template's mapping and its PackedResult, if the caller has counted
    it (model/packed.lowest_scoring). The sweeps' network path runs this choice in a kernel
    (dse/network._kernel_choice)."""
    einsum, dataflow = layer.run_einsum, options.dataflow
    mapping = map_template(arch, einsum, dataflow)
    if ragged_refused(arch, layer, options):
        return mapping, None
    pairs = padded_candidates(arch, einsum, mapping, lambda padded: map_template(arch, padded, dataflow))
    if not pairs:
        return mapping, None
    # the cycle limit counts the padded layers: only once two candidates are to be compared
    limit = cache(lambda: _hand_padded_cycles(arch, pairs, energies, layer.density))
    best, result = lowest_scoring(pack_problem(arch, einsum, energies, layer.density), arch, einsum,
                                  [mapping, *(ragged for _, _, ragged in pairs)],
                                  lambda energy, cycles: (cycles > limit(), energy * cycles),
                                  lambda m: not (arch.constraints and _violations(arch, layer, m))
                                  and not _unwalked(arch, layer, options, m), counted)
    return (best, result) if best is not None else (mapping, None)


def _hand_padded_cycles(arch: Arch, pairs, energies, density) -> float:
    """The fewest cycles of the padded layers run padded with the template's mappings (what padding
    by hand gives): the choice takes the lowest EDP among the candidates no slower than that (issue
    15's rule; the candidate unpadded from the fastest one is, as a ragged run never exceeds its
    padded one), and the lowest EDP of all only if none is allowed."""
    fastest = float("inf")
    for padded, padded_mapping, _ in pairs:
        result = evaluate_packed(pack_problem(arch, padded, energies, density), lower(arch, padded, padded_mapping))
        if result.status == OK:
            fastest = min(fastest, result.cycles)
    return fastest


def ragged_refused(arch: Arch, layer: Layer, options: SimOptions) -> str | None:
    """Why a ragged mapping cannot run here: the analytical and cycle models count ragged tiles (a
    mapping whose factors of a dim multiply to more than it); the other models and passes assume
    equal tiles and instances."""
    return (f"the {options.performance_model} model runs equal tiles"
            if options.performance_model not in ("analytical", "cycle") else
            "sparsity (sparse:, layer sparsity:) prices equal instances" if is_sparse(arch, layer) else
            "inter-layer residency (residency:) re-prices equal instances" if arch.residency_level else None)


def _unwalked(arch: Arch, layer: Layer, options: SimOptions, mapping: Mapping) -> str | None:
    """Why the cycle model's walk refuses a ragged mapping (model/cycle.walk_refusal), or None;
    templates and the mapper then keep a candidate the walk takes."""
    if options.performance_model != "cycle":
        return None
    from .model.cycle import walk_refusal
    return walk_refusal(arch, layer.run_einsum, lower(arch, layer.run_einsum, mapping))


def ragged_dims(einsum, mapping: Mapping) -> dict:
    """A ragged layer's extra: which dims run ragged, [what the loops cover, the size] (every dim's
    cover in one pass over the loops: a sweep asks for each ragged layer)."""
    covered = mapping.factors()
    return {d: [covered.get(d, 1), b] for d, b in einsum.bound.items() if covered.get(d, 1) != b}


def _check_ragged(arch: Arch, layer: Layer, options: SimOptions, mapping: Mapping) -> None:
    walk = _unwalked(arch, layer, options, mapping)
    if walk:
        raise MappingError(f"layer '{layer.name}': {walk}")
    why = ragged_refused(arch, layer, options)
    if why:
        raise MappingError(f"layer '{layer.name}': its mapping has ragged tiles (a dim's factors multiply to "
                           f"more than the dim), which only the analytical and cycle models of a dense layer "
                           f"without residency count so far: {why}; give that layer factors that multiply to its dims "
                           f"(or pad it: pad: in the workload)")


def price_layer(arch: Arch, layer: Layer, mapping: Mapping, counts, energies, cycles: int):
    """A layer's energy from its counts and cycles: simulate() and the residency pass price alike."""
    einsum = layer.run_einsum
    activity = layer_activity(arch, einsum, mapping, layer.density)
    format_pj = format_energies_pj(arch, counts.macs, einsum.tensor_size("outputs"), layer.density,
                                   held_operand(einsum, mapping), energies.voltage_scale)
    return layer_energy(arch, counts, energies, cycles / arch.frequency_hz, cycles, activity, format_pj)
