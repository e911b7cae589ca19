"""Typed errors: user input, infeasible mappings, and broken invariants."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    key_path: str = ""
    allowed: tuple[str, ...] = ()
    suggestion: str | None = None

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.key_path or '<root>'}: {self.message}"
        if self.allowed:
            text += f"\n    allowed: {', '.join(self.allowed)}"
        if self.suggestion:
            text += f"\n    suggestion: {self.suggestion}"
        return text


class SpecError(ValueError):
    """Bad user input. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the spec:"
        return "\n".join([head] + ["  " + p.render().replace("\n", "\n  ") for p in self.problems])


class MappingError(ValueError):
    """A mapping that cannot run on the architecture (capacity, fan-out, factors)."""


class AccelsimBug(AssertionError):
    """An internal invariant broke: a bug in accelsim, not in the user's input."""


def did_you_mean(word: str, choices) -> str | None:
    """Closest allowed spelling, for suggestions."""
    word = str(word)
    if len(word) > 200:  # no name is that long; matching a huge one would only cost time
        return None
    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


@dataclass
class ProblemList:
    """Collects problems while validating; raises them together."""

    file: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, key_path: str = "", line: int | None = None,
            allowed=(), suggestion: str | None = None) -> None:
        self.problems.append(Problem(message, self.file, line, key_path,
                                     tuple(str(a) for a in allowed), suggestion))

    def raise_if_any(self) -> None:
        if self.problems:
            raise SpecError(self.problems)
