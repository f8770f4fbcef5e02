"""Typed errors of the metadata layer. Each carries its problems as (JSON path, message) pairs,
which the intake turns into a 422 and the CLI into exit code 2."""

from __future__ import annotations


class MetadataError(ValueError):
    """Base: a Work (or input) that cannot become what was asked for."""

    def __init__(self, summary: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        details = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        super().__init__(f"{summary}: {details}" if details else summary)

    def paths(self) -> list[str]:
        """The JSON paths of the fields at fault, each once, in order."""
        return list(dict.fromkeys(path for path, _message in self.problems if path))


class WorkValidationError(MetadataError):
    """The data is not a valid Work; ``problems`` names each field by its JSON path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("invalid Work", problems)


class MissingFields(MetadataError):
    """The Work is valid but lacks what ``target`` needs; ``fields`` names each missing one
    by its path (``messages`` may say more than "missing" for some of them)."""

    def __init__(
        self, target: str, fields: list[str], messages: dict[str, str] | None = None
    ) -> None:
        self.target = target
        self.fields = fields
        said = messages or {}
        super().__init__(f"{target} needs", [(f, said.get(f, "missing")) for f in fields])


class Unrepresentable(MetadataError):
    """A value ``target`` cannot carry (e.g. a name Crossref's schema refuses)."""

    def __init__(self, target: str, problems: list[tuple[str, str]]) -> None:
        self.target = target
        super().__init__(f"{target} cannot represent", problems)


class InputError(MetadataError):
    """Input to an adapter that cannot be read at all (not XML, not JSON, wrong shape)."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"unreadable {source}", [("", message)])
