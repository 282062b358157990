"""Load a YAML config into AppConfig, reporting mistakes with file, line and field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from aistack.config.app import AppConfig
from aistack.errors import ConfigError

Location = tuple[str | int, ...]


class _DuplicateKey(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _line_map(node: yaml.Node, path: Location, lines: dict[Location, int]) -> None:
    """Record the 1-based line of every key and item, so errors can point at it."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:  # YAML would silently keep the last one
                raise _DuplicateKey(f"{_field_name((*path, key))}: given twice, on lines "
                                    f"{seen[key]} and {line}; keep one", line)  # fmt: skip
            seen[key] = line
            lines[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), lines)
            # Keep the key's own line for the key itself (a value may start on a later line).
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)


def _nearest_line(loc: Location, lines: Mapping[Location, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _field_name(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the model accepts at the parent of `loc`, for 'did you mean' help."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def format_validation_error(
    error: ValidationError, source: str, lines: Mapping[Location, int] | None = None
) -> str:
    """One readable line per problem: `file:line: field: message`."""
    messages = []
    for problem in error.errors():
        loc: Location = tuple(problem["loc"])
        line = _nearest_line(loc, lines or {})
        where = f"{source}:{line}" if line is not None else source
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(AppConfig, loc)
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            message = f"unknown key {loc[-1]!r}{hint}"
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
        messages.append(f"{where}: {_field_name(loc)}: {message}")
    return "\n".join(messages)


def parse_config(text: str, source: str = "<config>") -> AppConfig:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{source}: the config is empty; it needs at least `cameras:`")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping with `cameras:` at the top")
    lines: dict[Location, int] = {}
    if node is not None:
        try:
            _line_map(node, (), lines)
        except _DuplicateKey as error:
            raise ConfigError(f"{source}:{error.line}: {error}") from None
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source, lines)) from None


def field_line(path: str | Path, loc: Location) -> int | None:
    """The line of config field `loc` in the file at `path`, if the file sets it."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    lines: dict[Location, int] = {}
    if node is not None:
        try:
            _line_map(node, (), lines)
        except _DuplicateKey:
            return None
    return lines.get(tuple(loc))


def load_config(path: str | Path) -> AppConfig:
    """Read and validate a YAML config file; every mistake is a ConfigError naming its line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot read the config: {error}") from None
    return parse_config(text, str(file))
