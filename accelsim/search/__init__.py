"""The mapper: mapspaces, the jitted search kernels, and the search driver."""
