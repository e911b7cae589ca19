"""DVFS studies: energy-to-completion versus a domain's clock, per layer, and per-layer schedules."""
