"""Design-space exploration: sweep specs, points, executors, a resumable store, plots."""
