"""Importers that turn other simulators' inputs into accelsim arch and workload YAML."""
from .scalesim import ScaleSimImport, import_scalesim, layer_from_einsum, systolic_params

__all__ = ["ScaleSimImport", "import_scalesim", "layer_from_einsum", "systolic_params"]
