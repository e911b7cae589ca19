"""Every model switch in one recorded object: no hidden inputs, no environment variables."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SimOptions:
    model: str = "analytical"        # a registered performance model (model/performance.py)
    dataflow: str | None = None      # a registered template, or 'search' (the mapper); None: the arch's
                                     # own, else the mapper
    constraints_file: str | None = None  # mapper constraints and settings for dataflow 'search'
    mapper_seed: int | None = None   # overrides the constraints file's seed (and mapper_settings')
    mapper_settings: dict | None = None  # keys of a constraints file's mapper: block replacing its values
    mapping_file: str | None = None  # explicit mappings (per layer) instead of a template
    scalesim_compat: bool = False    # --model cycle on a systolic array: SCALE-Sim v3.0.0's counting
    precision: str | None = None     # number format for every layer (overrides the workload's)
    density: float | None = None     # operand density for every layer (overrides the workload's)

    @property
    def performance_model(self) -> str:
        """The registered model these options run: --scalesim-compat selects 'scalesim'."""
        return "scalesim" if self.scalesim_compat else self.model

    def as_dict(self) -> dict:
        return asdict(self)
