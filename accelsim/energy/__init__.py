"""Energy: technology tables, per-action estimators, voltage scaling, leakage."""
