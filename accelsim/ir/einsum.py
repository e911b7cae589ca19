"""Einsum layers with affine indices: O[n,k,p,q] += I[n,c,2*p+r,2*q+s] * W[k,c,r,s].

Every layer (conv, matmul, attention, pooling) is one `Einsum`, so nothing downstream
special-cases layer types. A tensor's index along one of its axes is a sum of
coefficient × dimension terms; `relevance` says which dimensions index a tensor at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

ROLES = ("inputs", "weights", "outputs")


@dataclass(frozen=True)
class Term:
    coef: int
    dim: str


@dataclass(frozen=True)
class Tensor:
    """One operand or the result. `axes[j]` is the affine index of axis j."""

    name: str
    role: str
    axes: tuple[tuple[Term, ...], ...]

    @property
    def dims(self) -> frozenset[str]:
        return frozenset(t.dim for axis in self.axes for t in axis)

    def render(self) -> str:
        def axis_text(axis):
            return "+".join(t.dim if t.coef == 1 else f"{t.coef}*{t.dim}" for t in axis)
        return f"{self.name}[{','.join(axis_text(a) for a in self.axes)}]"


@dataclass(frozen=True)
class Einsum:
    """A layer: output += product of operands over all dimension points."""

    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    tensors: tuple[Tensor, ...]

    # Computed once per object (an Einsum keys many caches, and a sweep looks its layers up at every
    # point): the dataclass's own hash of the fields, and each tensor's size. Kept out of pickles
    # (another process hashes strings with another seed).
    def __hash__(self) -> int:
        known = self.__dict__.get("_hash")
        if known is None:
            known = hash((self.dims, self.bounds, self.tensors))
            object.__setattr__(self, "_hash", known)
        return known

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_hash", "_sizes", "_roles")}

    @property
    def bound(self) -> dict[str, int]:
        return dict(zip(self.dims, self.bounds))

    @property
    def macs(self) -> int:
        return prod(self.bounds)

    def tensor(self, role: str) -> Tensor | None:
        return next((t for t in self.tensors if t.role == role), None)

    @property
    def roles(self) -> tuple[str, ...]:
        known = self.__dict__.get("_roles")  # (once per object, as the hash: a sweep reads it per layer and point)
        if known is None:
            known = tuple(t.role for t in self.tensors)
            object.__setattr__(self, "_roles", known)
        return known

    def relevant(self, role: str, dim: str) -> bool:
        return dim in self.tensor(role).dims

    @property
    def separable_dims(self) -> tuple[str, ...]:
        """Dims indexed only by tensors whose every axis indexes one dim (no sliding window): the dims a
        ragged tile may truncate (counting/ragged_kernel.py counts those tensors in closed form)."""
        mixed = {term.dim for t in self.tensors if any(len(axis) > 1 for axis in t.axes)
                 for axis in t.axes for term in axis}
        return tuple(d for d in self.dims if d not in mixed)

    def reduction_dims(self) -> tuple[str, ...]:
        out = self.tensor("outputs").dims
        return tuple(d for d in self.dims if d not in out)

    def tensor_size(self, role: str) -> int:
        """Elements in the whole tensor (exact point count of each affine axis)."""
        from .footprint import axis_points
        sizes = self.__dict__.get("_sizes")
        if sizes is None:
            sizes = {}
            object.__setattr__(self, "_sizes", sizes)
        if role not in sizes:
            sizes[role] = prod(len(axis_points(axis, self.bound)) for axis in self.tensor(role).axes)
        return sizes[role]

    def render(self) -> str:
        out = self.tensor("outputs").render()
        operands = " * ".join(t.render() for t in self.tensors if t.role != "outputs")
        return f"{out} += {operands}"


_TENSOR = re.compile(r"\s*([A-Za-z_]\w*)\s*\[([^\]]*)\]\s*")
_TERM = re.compile(r"^\s*(?:(\d+)\s*\*\s*)?([a-z_]\w*)(?:\s*\*\s*(\d+))?\s*$")


def parse_einsum(text: str, bounds: dict[str, int]) -> Einsum:
    """Parse 'O[...] += I[...] * W[...]' (or one operand, for pooling-like layers).

    The output is the left side; the first operand plays the `inputs` role and the
    second the `weights` role. Raises ValueError with a readable message.
    """
    if "+=" not in text:
        raise ValueError(f"einsum {text!r} needs the form 'O[...] += I[...] * W[...]'")
    lhs, rhs = text.split("+=", 1)
    # Split on '*' that separates tensors, not the ones inside index brackets.
    operand_texts = _split_operands(rhs)
    if not 1 <= len(operand_texts) <= 2:
        raise ValueError(f"einsum {text!r} must have one or two operands, found {len(operand_texts)}")
    parsed = [_parse_tensor(lhs, "outputs")]
    for text_part, role in zip(operand_texts, ("inputs", "weights")):
        parsed.append(_parse_tensor(text_part, role))
    used = sorted({d for t in parsed for d in t.dims})
    missing = [d for d in used if d not in bounds]
    if missing:
        raise ValueError(f"dimensions {missing} appear in the einsum but have no bound; "
                         f"give them under 'dims'")
    extra = [d for d in bounds if d not in used]
    if extra:
        raise ValueError(f"dimensions {extra} have bounds but appear in no tensor of the einsum")
    names = [t.name for t in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"tensor names must differ, got {names}")
    for d in used:
        if not isinstance(bounds[d], int) or isinstance(bounds[d], bool) or bounds[d] < 1:
            raise ValueError(f"dimension {d} must be a positive integer, got {bounds[d]!r}")
    dims = tuple(d for d in bounds if d in used)
    return Einsum(dims, tuple(int(bounds[d]) for d in dims), tuple(parsed))


def _split_operands(rhs: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in rhs:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "*" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def _parse_tensor(text: str, role: str) -> Tensor:
    m = _TENSOR.fullmatch(text)
    if not m:
        raise ValueError(f"cannot read tensor {text.strip()!r}; write e.g. 'W[k,c,r,s]'")
    name, index_text = m.group(1), m.group(2)
    axes = []
    for axis_text in index_text.split(","):
        terms = []
        for term_text in axis_text.split("+"):
            tm = _TERM.match(term_text)
            if not tm:
                raise ValueError(f"cannot read index term {term_text.strip()!r} in {text.strip()!r}; "
                                 f"write 'dim' or 'coef*dim' (e.g. '2*p+r')")
            coef = int(tm.group(1) or tm.group(3) or 1)
            if coef < 1:
                raise ValueError(f"index coefficient must be positive in {text.strip()!r}")
            terms.append(Term(coef, tm.group(2)))
        seen = [t.dim for t in terms]
        if len(set(seen)) != len(seen):
            raise ValueError(f"a dimension repeats within one index of {text.strip()!r}")
        axes.append(tuple(terms))
    all_dims = [t.dim for axis in axes for t in axis]
    if len(set(all_dims)) != len(all_dims):
        raise ValueError(f"a dimension indexes two axes of {name}; accelsim needs each "
                         f"dimension in at most one axis of a tensor")
    return Tensor(name, role, tuple(axes))
