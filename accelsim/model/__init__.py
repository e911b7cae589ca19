"""Performance models: analytical (closed form per tile step) and cycle-level."""
