"""Intermediate representation: einsum workloads and frozen architectures."""
