"""Importers that turn other simulators' inputs into accelsim arch and workload YAML."""
from .scalesim import ScaleSimImport, import_scalesim

__all__ = ["ScaleSimImport", "import_scalesim"]
