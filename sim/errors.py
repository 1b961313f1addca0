"""Errors the library raises for bad input; only ``cli.py`` turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located in its file.

    Attributes:
        path: the dotted key path, in the same form ``--set`` takes
            (``funnel.core.price``); empty for the whole document.
        message: what rule was broken, and by which value.
        file: the file the scenario came from, or ``"<string>"``.
        line: 1-based line of the offending key, when known.
        column: 1-based column of the offending key, when known.
        hint: how to fix it (``did you mean 'take'?``), or empty.
    """

    path: str
    message: str
    file: str = "<string>"
    line: int | None = None
    column: int | None = None
    hint: str = ""

    def location(self) -> str:
        """``file:line:column`` with whatever parts are known."""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = f"{self.location()}: {self.path}: " if self.path else f"{self.location()}: "
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{tail}"


class ScenarioError(ValueError):
    """A scenario (file, override or search section) that cannot be run.

    Carries every problem found, each with file, line, column, key path, what was
    expected and a hint, so a user can fix them all in one pass.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str, message: str, hint: str = "") -> ScenarioError:
        """One problem at a key path, not yet placed in a file."""
        return cls([Problem(path, message, hint=hint)])
