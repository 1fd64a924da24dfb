"""The CLI's error types; ``main()`` turns them into one-line messages and exit codes."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a problem is: file, 1-based line and column, and the JSON path in the document."""

    file: str = ''
    line: int = 0
    column: int = 0
    path: str = ''

    def __str__(self):
        parts = []
        if self.file:
            parts.append(self.file)
            if self.line:
                parts.append(str(self.line))
                if self.column:
                    parts.append(str(self.column))
        text = ':'.join(parts)
        if self.path:
            text = f"{text}: {self.path}" if text else self.path
        return text


class CliError(Exception):
    """Base class of errors that the CLI reports as one line each."""

    def __init__(self, message, location=None, hint=None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def lines(self):
        """The error as printed: 'error: LOCATION: message' and an optional hint line."""
        where = f"{self.location}: " if self.location and str(self.location) else ""
        lines = [f"error: {where}{self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return lines


class BadInputError(CliError):
    """Bad usage, a bad experiment file, a missing or corrupt data or network file (exit 2)."""


class MultipleBadInputError(BadInputError):
    """Several problems found at once (validation reports them all)."""

    def __init__(self, errors, limit=None):
        super().__init__(f"{len(errors)} problems found")
        self.errors = list(errors)
        #: print at most this many problems (None: all), then count the rest
        self.limit = limit

    def lines(self):
        lines = []
        shown = self.errors if self.limit is None else self.errors[:self.limit]
        for error in shown:
            lines.extend(error.lines())
        hidden = len(self.errors) - len(shown)
        if hidden:
            lines.append(f"error: {hidden} more problem{'s' if hidden != 1 else ''}; "
                         f"use --verbose to see all")
        return lines


class RunFailedError(CliError):
    """The run started but failed (exit 1)."""
