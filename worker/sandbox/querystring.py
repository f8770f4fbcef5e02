"""A useful subset of the Lucene/Elasticsearch query-string syntax, matched in memory.

Supported: free words (matched against the default fields), ``field:value``,
``field:"a phrase"``, ``field:(a OR b)``, ``AND``/``OR``/``NOT`` (also ``&&``, ``||``, ``-``
and ``+`` prefixes), parentheses, ``*``/``?`` wildcards, ranges ``field:[a TO b]`` (inclusive,
compared as strings, ``*`` open). Words without an operator between them are joined with the
default operator (AND, as DataCite's API does). Matching is case-insensitive: a word matches
a field when it equals the whole value or one of its words; a phrase when it occurs in it.

A document is a mapping field → list of string values (see :func:`flatten`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Document = Mapping[str, list[str]]
Predicate = Callable[[Document], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<lpar>\()|(?P<rpar>\))|(?P<op>AND\b|OR\b|NOT\b|&&|\|\|)"
    r"|(?P<field>[A-Za-z_][\w.\-]*):"
    r'|(?P<range>[\[{][^\]}]*[\]}])|"(?P<phrase>(?:[^"\\]|\\.)*)"'
    r'|(?P<sign>[+\-])(?=\S)|(?P<word>(?:[^\s()"\\:]|\\.|:(?!\s))+))'
)
_WORDS = re.compile(r"[\w*?]+", re.UNICODE)


class QuerySyntaxError(ValueError):
    """The query could not be parsed."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise QuerySyntaxError(f"cannot parse query at: {query[position:]!r}")
        kind = match.lastgroup or "word"
        text = match.group(kind)
        tokens.append(_Token(kind, text.replace("&&", "AND").replace("||", "OR")))
        position = match.end()
    return tokens


def flatten(
    value: Any, prefix: str = "", into: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """``{"creators": [{"name": "X"}]}`` → ``{"creators.name": ["X"], "creators": ["X"]}``.

    Every nested field is listed under its dotted path; each parent path also lists every
    value below it, so ``creators:smith`` works as well as ``creators.familyName:smith``.
    """
    result = {} if into is None else into
    if isinstance(value, Mapping):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flatten(inner, path, result)
    elif isinstance(value, list | tuple):
        for inner in value:
            flatten(inner, prefix, result)
    elif value is not None and prefix:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts = prefix.split(".")
        for depth in range(1, len(parts) + 1):
            result.setdefault(".".join(parts[:depth]), []).append(text)
    return result


def _word_matches(word: str, values: Iterable[str]) -> bool:
    pattern = word.lower()
    wildcard = "*" in pattern or "?" in pattern
    for value in values:
        lowered = value.lower()
        if lowered == pattern or (wildcard and fnmatch.fnmatchcase(lowered, pattern)):
            return True
        for token in _WORDS.findall(lowered):
            if token == pattern or (wildcard and fnmatch.fnmatchcase(token, pattern)):
                return True
    return False


def _phrase_matches(phrase: str, values: Iterable[str]) -> bool:
    wanted = " ".join(phrase.lower().split())
    return any(wanted in " ".join(value.lower().split()) for value in values)


def _range_matches(text: str, values: Iterable[str]) -> bool:
    inclusive_low, inclusive_high = text[0] == "[", text[-1] == "]"
    parts = text[1:-1].split(" TO ")
    if len(parts) != 2:
        raise QuerySyntaxError(f"bad range {text!r}")
    low, high = (part.strip().strip('"') for part in parts)
    for value in values:
        above = low == "*" or (value >= low if inclusive_low else value > low)
        below = high == "*" or (value <= high if inclusive_high else value < high)
        if above and below:
            return True
    return False


class _Parser:
    def __init__(
        self, tokens: list[_Token], default_fields: tuple[str, ...], aliases: Mapping[str, str]
    ) -> None:
        self.tokens = tokens
        self.position = 0
        self.default_fields = default_fields
        self.aliases = aliases

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda _document: True
        predicate = self.or_expr(None)
        if self.peek() is not None:
            raise QuerySyntaxError(f"unexpected {self.peek()!r}")
        return predicate

    def or_expr(self, fields: tuple[str, ...] | None) -> Predicate:
        parts = [self.and_expr(fields)]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            parts.append(self.and_expr(fields))
        if len(parts) == 1:
            return parts[0]
        return lambda document: any(part(document) for part in parts)

    def and_expr(self, fields: tuple[str, ...] | None) -> Predicate:
        parts = [self.unary(fields)]
        while (token := self.peek()) is not None and token.kind != "rpar":
            if token.kind == "op" and token.text == "OR":
                break
            if token.kind == "op" and token.text == "AND":
                self.take()
            parts.append(self.unary(fields))
        if len(parts) == 1:
            return parts[0]
        return lambda document: all(part(document) for part in parts)

    def unary(self, fields: tuple[str, ...] | None) -> Predicate:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("query ends too early")
        if (token.kind == "op" and token.text == "NOT") or (
            token.kind == "sign" and token.text == "-"
        ):
            self.take()
            inner = self.unary(fields)
            return lambda document: not inner(document)
        if token.kind == "sign":
            self.take()
        return self.term(fields)

    def term(self, fields: tuple[str, ...] | None) -> Predicate:
        token = self.take()
        if token.kind == "field":
            name = self.aliases.get(token.text, token.text)
            return self.term((name,))
        if token.kind == "lpar":
            inner = self.or_expr(fields)
            if self.peek() is None or self.take().kind != "rpar":
                raise QuerySyntaxError("missing )")
            return inner
        targets = fields or self.default_fields
        if token.kind == "phrase":
            text = token.text.replace('\\"', '"')
            return lambda document: any(_phrase_matches(text, document.get(f, [])) for f in targets)
        if token.kind == "range":
            text = token.text
            return lambda document: any(_range_matches(text, document.get(f, [])) for f in targets)
        if token.kind == "word":
            word = re.sub(r"\\(.)", r"\1", token.text)
            if word == "*":
                return lambda document: any(document.get(f) for f in targets)
            return lambda document: any(_word_matches(word, document.get(f, [])) for f in targets)
        raise QuerySyntaxError(f"unexpected {token.text!r}")


def compile_query(
    query: str, default_fields: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> Predicate:
    """A predicate over documents for ``query``; raises :class:`QuerySyntaxError`."""
    return _Parser(_tokenize(query), default_fields, aliases or {}).parse()
