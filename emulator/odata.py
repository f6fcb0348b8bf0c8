"""OData query options as Graph applies them to directory objects: $filter, $search, $select, $top, $orderby.

``parse_filter`` turns a ``$filter`` string into a predicate over records and reports which operators it used,
because Graph only accepts ``ne``, ``not`` and ``endsWith`` as *advanced queries* (``ConsistencyLevel: eventual``
plus ``$count=true``). Directory string comparisons are case-insensitive, as in Entra ID.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, bad_request, unsupported_query
from .schema import BOOL, DATE, STRING, STRINGS

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any], str], Any]

MAX_TOP = 999


@dataclass(frozen=True)
class EntityType:
    """What the query options need to know about one kind of directory object."""

    name: str  # "User" (as in Graph's error texts)
    odata_type: str  # "microsoft.graph.user"
    schema: dict[str, str]
    filterable: frozenset[str]
    endswith: frozenset[str]
    getter: Getter


@dataclass
class FilterInfo:
    predicate: Predicate
    advanced_operators: list[str] = field(default_factory=list)  # e.g. ["ne", "endsWith"], in order of use
    properties: set[str] = field(default_factory=set)


# -- tokenizer --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w-]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),/:])
    """,
    re.VERBOSE,
)


@dataclass
class _Token:
    kind: str  # string, datetime, guid, number, name, punct, end
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _syntax_error(text, position, f"character '{text[position]}' is not valid")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _syntax_error(text: str, position: int, detail: str) -> GraphError:
    return bad_request(f"Invalid filter clause: Syntax error: {detail} at position {position} in '{text}'.",
                       code="BadRequest")


# -- parser -----------------------------------------------------------------------------------------------------

_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}


@dataclass(frozen=True)
class _Literal:
    value: Any
    edm: str  # STRING, BOOL, DATE, "null", "number"


class _Parser:
    def __init__(self, text: str, entity: EntityType) -> None:
        self.text = text
        self.entity = entity
        self.tokens = _tokenize(text)
        self.position = 0
        self.info = FilterInfo(predicate=lambda record: True)
        self.lambda_vars: dict[str, str] = {}  # variable -> element Edm type

    # token helpers
    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.position += 1
        return token

    def keyword(self, token: _Token, word: str) -> bool:
        return token.kind == "name" and token.text.lower() == word

    def expect_punct(self, symbol: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != symbol:
            raise _syntax_error(self.text, token.position, f"'{symbol}' expected")

    # grammar
    def parse(self) -> FilterInfo:
        predicate = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise _syntax_error(self.text, token.position, f"unexpected '{token.text}'")
        self.info.predicate = predicate
        return self.info

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.keyword(self.peek(), "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        while self.keyword(self.peek(), "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.keyword(self.peek(), "not"):
            self.take()
            self.info.advanced_operators.append("not")
            inner = self.unary()
            return lambda r: not inner(r)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect_punct(")")
            return inner
        if token.kind == "name" and token.text.lower() in _FUNCTIONS and self.peek(1).text == "(":
            return self.function_call()
        return self.comparison()

    def function_call(self) -> Predicate:
        name = _FUNCTIONS[self.take().text.lower()]
        self.expect_punct("(")
        path, getter, edm = self.operand()
        self.expect_punct(",")
        literal = self.literal()
        self.expect_punct(")")
        prop = path[0]
        if name == "contains":
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{prop}' of resource "
                f"'{self.entity.name}'.")
        if name == "endsWith":
            self.info.advanced_operators.append("endsWith")
            if prop not in self.lambda_vars and prop not in self.entity.endswith:
                raise unsupported_query(
                    f"Unsupported or invalid query filter clause specified for property '{prop}' of resource "
                    f"'{self.entity.name}'.")
        if literal.edm != STRING:
            raise self.incompatible(edm, literal, name)
        needle = str(literal.value).casefold()
        if name == "startsWith":
            return lambda r: _text_test(getter(r), lambda v: v.startswith(needle))
        return lambda r: _text_test(getter(r), lambda v: v.endswith(needle))

    def comparison(self) -> Predicate:
        path, getter, edm = self.operand()
        if isinstance(getter, _LambdaMarker):
            return getter.predicate
        token = self.take()
        operator = token.text.lower() if token.kind == "name" else ""
        if operator == "in":
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.expect_punct(")")
            for value in values:
                self.check_types(edm, value, "in")
            wanted = [_normal(v.value) for v in values]
            return lambda r: _normal(getter(r)) in wanted
        if operator not in _COMPARISONS:
            raise _syntax_error(self.text, token.position, "comparison operator expected")
        if operator == "ne":
            self.info.advanced_operators.append("ne")
        literal = self.literal()
        self.check_types(edm, literal, operator)
        return _compare(getter, operator, _normal(literal.value))

    def operand(self) -> tuple[list[str], Any, str]:
        """A property path (``a`` or ``a/b``), a lambda variable, or ``collection/any(x: ...)``."""
        token = self.take()
        if token.kind != "name":
            raise _syntax_error(self.text, token.position, "property name expected")
        path = [token.text]
        while self.peek().text == "/":
            self.take()
            segment = self.take()
            if segment.kind != "name":
                raise _syntax_error(self.text, segment.position, "property name expected")
            if segment.text.lower() in ("any", "all") and self.peek().text == "(":
                return path, self.lambda_expression(path, segment.text.lower()), ""
            path.append(segment.text)
        root = path[0]
        if root in self.lambda_vars:
            return path, lambda r, name=root: r.get(name), self.lambda_vars[root]
        self.check_property(root)
        edm = self.entity.schema[root] if len(path) == 1 else ""
        getter = self.entity.getter
        if len(path) == 1:
            return path, lambda r: getter(r, root), edm
        rest = path[1:]
        return path, lambda r: _dig(getter(r, root), rest), edm

    def lambda_expression(self, path: list[str], kind: str) -> _LambdaMarker:
        prop = path[0]
        self.check_property(prop)
        self.expect_punct("(")
        variable = self.take()
        if variable.kind != "name":
            raise _syntax_error(self.text, variable.position, "lambda variable expected")
        self.expect_punct(":")
        element = STRING if self.entity.schema.get(prop) == STRINGS else ""
        self.lambda_vars[variable.text] = element
        inner = self.expression()
        del self.lambda_vars[variable.text]
        self.expect_punct(")")
        getter = self.entity.getter
        name = variable.text

        def test(record: dict[str, Any]) -> bool:
            items = getter(record, prop) or []
            results = (inner({name: item}) for item in items)
            return any(results) if kind == "any" else all(results)

        return _LambdaMarker(test)

    def literal(self) -> _Literal:
        token = self.take()
        if token.kind == "string":
            return _Literal(token.text[1:-1].replace("''", "'"), STRING)
        if token.kind == "datetime":
            return _Literal(token.text, DATE)
        if token.kind == "guid":
            return _Literal(token.text.lower(), "guid")
        if token.kind == "number":
            return _Literal(float(token.text) if "." in token.text else int(token.text), "number")
        if token.kind == "name" and token.text in ("true", "false"):
            return _Literal(token.text == "true", BOOL)
        if token.kind == "name" and token.text == "null":
            return _Literal(None, "null")
        raise _syntax_error(self.text, token.position, "literal expected")

    # checks
    def check_property(self, prop: str) -> None:
        self.info.properties.add(prop)
        if prop not in self.entity.schema:
            raise bad_request(f"Could not find a property named '{prop}' on type '{self.entity.odata_type}'.")
        if prop not in self.entity.filterable:
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{prop}' of resource "
                f"'{self.entity.name}'.")

    def check_types(self, edm: str, literal: _Literal, operator: str) -> None:
        if literal.edm == "null" or not edm or edm.startswith("Collection") or edm == "complex":
            return
        compatible = {STRING: (STRING, "guid"), BOOL: (BOOL,), DATE: (DATE,)}.get(edm, (literal.edm,))
        if literal.edm not in compatible:
            raise self.incompatible(edm, literal, operator)

    def incompatible(self, edm: str, literal: _Literal, operator: str) -> GraphError:
        kinds = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
                 "lt": "LessThan", "le": "LessThanOrEqual", "in": "In"}
        literal_type = {"null": "null", "number": "Edm.Int32", "guid": "Edm.Guid"}.get(literal.edm, literal.edm)
        return bad_request(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{edm or 'Edm.String'}' and '{literal_type}' for operator kind '{kinds.get(operator, operator)}'.",
            code="BadRequest")


@dataclass(frozen=True)
class _LambdaMarker:
    predicate: Predicate


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _normal(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _text_test(value: Any, test: Callable[[str], bool]) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, str) and test(item.casefold()) for item in value)
    return isinstance(value, str) and test(value.casefold())


def _compare(getter: Callable[[dict[str, Any]], Any], operator: str, wanted: Any) -> Predicate:
    def test(record: dict[str, Any]) -> bool:
        value = _normal(getter(record))
        if isinstance(value, list):
            return any(_apply(operator, _normal(item), wanted) for item in value)
        return _apply(operator, value, wanted)

    return test


def _apply(operator: str, value: Any, wanted: Any) -> bool:
    if operator == "eq":
        return bool(value == wanted)
    if operator == "ne":
        return bool(value != wanted)
    if value is None or wanted is None:
        return False
    try:
        if operator == "gt":
            return bool(value > wanted)
        if operator == "ge":
            return bool(value >= wanted)
        if operator == "lt":
            return bool(value < wanted)
        return bool(value <= wanted)
    except TypeError:
        return False


def parse_filter(text: str, entity: EntityType) -> FilterInfo:
    """Parse ``$filter``; raises GraphError (400) for syntax errors and unsupported clauses."""
    return _Parser(text, entity).parse()


# -- $search ----------------------------------------------------------------------------------------------------

_SEARCH_TERM = re.compile(r'"([A-Za-z]+):([^"]*)"')


def parse_search(text: str, entity: EntityType) -> Predicate:
    """``"prop:term"`` clauses joined by AND / OR (AND binds tighter); a term matches the start of any word."""
    position = 0
    clauses: list[list[tuple[str, str]]] = [[]]
    text = text.strip()
    while position < len(text):
        match = _SEARCH_TERM.match(text, position)
        if match is None:
            raise unsupported_query(f"Syntax error: invalid $search query '{text}'.")
        prop, term = match.group(1), match.group(2).casefold()
        if prop not in entity.schema:
            raise bad_request(f"Could not find a property named '{prop}' on type '{entity.odata_type}'.")
        clauses[-1].append((prop, term))
        position = match.end()
        rest = text[position:].lstrip()
        operator = re.match(r"(AND|OR)\s+", rest)
        if operator:
            if operator.group(1) == "OR":
                clauses.append([])
            position = len(text) - len(rest) + operator.end()
        elif rest:
            raise unsupported_query(f"Syntax error: invalid $search query '{text}'.")

    def word_match(value: Any, term: str) -> bool:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            lowered = item.casefold()
            if lowered.startswith(term) or any(w.startswith(term) for w in re.split(r"[^\w]+", lowered)):
                return True
        return False

    getter = entity.getter
    return lambda r: any(all(word_match(getter(r, p), t) for p, t in clause) for clause in clauses if clause)


# -- $select, $top, $count, $orderby ----------------------------------------------------------------------------


def parse_select(text: str | None, entity: EntityType, default: tuple[str, ...]) -> list[str]:
    """Property names to return; ``default`` when $select is absent or empty, every property for ``*``."""
    if text is None:
        return list(default)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return list(default)
    if "*" in names:
        return list(entity.schema)
    for name in names:
        if name not in entity.schema:
            raise bad_request(f"Could not find a property named '{name}' on type '{entity.odata_type}'.")
    return list(dict.fromkeys(names))


def parse_top(text: str | None, maximum: int = MAX_TOP) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d+", text.strip()) or not 1 <= int(text) <= maximum:
        raise bad_request(f"Invalid page size specified: '{text}'. Must be between 1 and {maximum} inclusive.")
    return int(text)


def parse_count(text: str | None) -> bool:
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise bad_request(f"Invalid value '{text}' for $count. The value must be 'true' or 'false'.",
                          code="BadRequest")
    return text.lower() == "true"


def parse_orderby(text: str | None, entity: EntityType) -> tuple[str, bool] | None:
    """(property, descending) or None."""
    if not text:
        return None
    parts = text.strip().split()
    if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")) or "," in text:
        raise unsupported_query("Sorting on more than one property, or with this syntax, is not supported.")
    if parts[0] not in entity.schema:
        raise bad_request(f"Could not find a property named '{parts[0]}' on type '{entity.odata_type}'.")
    return parts[0], len(parts) == 2 and parts[1].lower() == "desc"

