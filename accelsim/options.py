"""Every model switch in one recorded object: no hidden inputs, no environment variables."""
from __future__ import annotations

from dataclasses import asdict, dataclass

MODELS = ("analytical", "cycle")


@dataclass(frozen=True)
class SimOptions:
    model: str = "analytical"        # 'analytical' or 'cycle'
    dataflow: str = "ws"             # a registered dataflow template, or 'explicit'
    mapping_file: str | None = None  # explicit mappings (per layer) instead of a template

    def as_dict(self) -> dict:
        return asdict(self)
