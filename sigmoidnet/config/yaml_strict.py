"""Strict YAML: the YAML 1.2 core schema's plain data, within `sigmoidnet.limits`, and nothing
else.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml

from sigmoidnet.errors import ConfigError
from sigmoidnet.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES, MAX_INT_DIGITS

SIZE_LIMIT = f"{MAX_CONFIG_BYTES // 2**20} MiB"


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution): the only implicit
# types are null, bool, int (decimal, 0o octal, 0x hex) and float; any other plain scalar is a
# string (YAML 1.1's yes/no/on/off, 1_000, 0b101, 014 as octal, 1:30, dates, `<<` and `=`).
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_TAG = "tag:yaml.org,2002:"


class _LimitError(yaml.MarkedYAMLError):
    """A config past one of `sigmoidnet.limits`' bounds (or an anchor/alias)."""


class _StrictLoader(yaml.SafeLoader):
    """YAML 1.2 core-schema plain data, within limits, and nothing else.

    - scalars resolve as YAML 1.2's core schema (`1e-3` is a float, `no` and `1_000` strings);
    - only the core tags construct (str, int, float, bool, null, seq, map): other tags, such
      as the ones that build Python objects, are refused;
    - anchors and aliases are refused when composed, before anything expands (billion laughs,
      alias cycles); mappings and lists nest at most `MAX_CONFIG_DEPTH` deep, checked as
      each one opens, before the recursive composer can overflow the stack; at most
      `MAX_CONFIG_VALUES` nodes, which bounds the time spent in the (pure Python) parser;
    - mapping keys are scalars and unique; an integer has at most `MAX_INT_DIGITS` digits;
      text holds no lone surrogates. These errors name the key path (`_path`).
    """

    yaml_constructors: ClassVar[dict[Any, Any]] = {}
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}

    def __init__(self, stream: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(stream)
        self._depth = len(path)  # a `--set` value starts below its key's sections
        self._nodes = 0
        self._path: list[str] = list(path)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _LimitError(
                None,
                None,
                "YAML anchors and aliases are not allowed (a config is plain data)",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > MAX_CONFIG_VALUES:
            raise _LimitError(
                None,
                None,
                f"more than {MAX_CONFIG_VALUES:,} values (keys, scalars, lists and mappings;"
                " the limit)",
                event.start_mark,
            )
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_CONFIG_DEPTH:
                raise _LimitError(
                    None,
                    None,
                    f"lists and mappings nest deeper than {MAX_CONFIG_DEPTH} levels (the limit)",
                    event.start_mark,  # type: ignore[arg-type]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def problem(self, node: yaml.Node, what: str) -> yaml.constructor.ConstructorError:
        """A construction error at `node`, naming the key path when there is one."""
        path = ".".join(self._path)
        return yaml.constructor.ConstructorError(
            None, None, f"{path}: {what}" if path else what, node.start_mark
        )


_StrictLoader.yaml_implicit_resolvers = {}  # only the core schema's, added here
for _tag, _rx, _first in (
    ("null", _NULL_RE, ["~", "n", "N", ""]),
    ("bool", _BOOL_RE, list("tTfF")),
    ("int", _INT_RE, list("-+0123456789")),
    ("float", _FLOAT_RE, list("-+0123456789.")),
):
    _StrictLoader.add_implicit_resolver(_TAG + _tag, _rx, _first)


def _scalar(loader: _StrictLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise loader.problem(node, f"expected a scalar for tag {node.tag}, got a collection")
    return str(node.value)


def _construct_str(loader: _StrictLoader, node: yaml.Node) -> str:
    text = _scalar(loader, node)
    bad = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        raise loader.problem(node, f"{bad!r} is a lone surrogate, not a character")
    return text


def _construct_null(loader: _StrictLoader, node: yaml.Node) -> None:
    if not _NULL_RE.match(_scalar(loader, node)):
        raise loader.problem(node, f"{node.value!r} is not a YAML 1.2 null")
    return None


def _construct_bool(loader: _StrictLoader, node: yaml.Node) -> bool:
    text = _scalar(loader, node)
    if not _BOOL_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 boolean (true or false)")
    return text.lower() == "true"


def _construct_int(loader: _StrictLoader, node: yaml.Node) -> int:
    text = _scalar(loader, node)
    if not _INT_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 integer")
    digits = len(text.lstrip("+-")) - (2 if text[:2] in ("0o", "0x") else 0)
    if digits > MAX_INT_DIGITS:
        raise loader.problem(
            node, f"an integer of {digits} digits is too long (the limit is {MAX_INT_DIGITS})"
        )
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: _StrictLoader, node: yaml.Node) -> float:
    text = _scalar(loader, node)
    if not _FLOAT_RE.match(text):
        raise loader.problem(node, f"{text!r} is not a YAML 1.2 float")
    low = text.lower()
    if low.endswith(".nan"):
        return float("nan")
    if low.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float(text)


def _construct_seq(loader: _StrictLoader, node: yaml.Node) -> list[Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise loader.problem(node, "expected a list")
    out = []
    for i, child in enumerate(node.value):
        loader._path.append(str(i))
        try:
            out.append(loader.construct_object(child, deep=True))
        finally:
            loader._path.pop()
    return out


def _construct_map(loader: _StrictLoader, node: yaml.Node) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise loader.problem(node, "expected a mapping")
    out: dict[Any, Any] = {}
    first_line: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise loader.problem(key_node, f"a key must be a plain name, got a {kind}")
        key = loader.construct_object(key_node, deep=True)
        if key in first_line:
            full = ".".join([*loader._path, str(key)])
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {full!r} (first on line {first_line[key]})",
                key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1
        loader._path.append(str(key))
        try:
            out[key] = loader.construct_object(value_node, deep=True)
        finally:
            loader._path.pop()
    return out


for _tag, _fn in (
    ("str", _construct_str),
    ("null", _construct_null),
    ("bool", _construct_bool),
    ("int", _construct_int),
    ("float", _construct_float),
    ("seq", _construct_seq),
    ("map", _construct_map),
):
    _StrictLoader.add_constructor(_TAG + _tag, _fn)


def _construct_undefined(loader: _StrictLoader, node: yaml.Node) -> Any:
    return loader.construct_undefined(node)  # raises: "could not determine a constructor"


_StrictLoader.add_constructor(None, _construct_undefined)


def parse_yaml(text: str, where: str, key: str = "") -> Any:
    """Parse one YAML document strictly; errors name `where` and line:column (and the key
    path below `key`, the dotted key of a `--set` value)."""
    if len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_CONFIG_BYTES
    ):
        raise ConfigError(where, f"larger than {SIZE_LIMIT} (the limit for a config)")
    loader: _StrictLoader | None = None
    try:
        # the reader checks every character as the loader is made
        loader = _StrictLoader(text, tuple(key.split(".")) if key else ())
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = str(e.problem or e.context or "invalid YAML")
        if "could not determine a constructor" in problem:
            tag = problem.split("tag", 1)[-1].strip()
            problem = f"YAML tag {tag} is not allowed (configs hold plain data only)"
        raise ConfigError(loc, problem) from None
    except yaml.reader.ReaderError as e:
        # a character YAML does not allow (NUL, other control characters, a lone surrogate)
        before = text[: max(0, e.position)]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = chr(e.character) if isinstance(e.character, int) else str(e.character)
        raise ConfigError(
            f"{where}:{line}:{col}", f"the character {char!r} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as e:  # pragma: no cover - non-marked errors are rare
        raise ConfigError(where, str(e).replace("\n", " ")) from None
    finally:
        if loader is not None:
            loader.dispose()
