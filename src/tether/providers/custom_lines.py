"""Where a field is in an operator's providers file, so every error can name its line.

YAML keeps positions: PyYAML's composed nodes carry marks. The standard library's TOML reader
keeps none, so the text is scanned: table headers (`[[provider]]`, `[provider.oauth]`,
`[[provider.errors]]`) and `key = value` lines, with arrays of tables counted so the n-th
`[[provider]]` is provider n. A field the file lacks is placed at the table that should hold it.
"""

import re
from collections.abc import Iterator
from typing import Protocol

import yaml

# A field's place in the parsed file: keys and list indexes, e.g. ("provider", 0, "oauth").
Loc = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEY_LINE = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=\s*(.*)$")
_KEY_PART = re.compile(r"""([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)'""")
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


class Lines(Protocol):
    def line_of(self, loc: Loc) -> int | None: ...


def _parts(dotted: str) -> list[str]:
    return [bare or double or single for bare, double, single in _KEY_PART.findall(dotted)]


def _depth(value: str) -> int:
    """How many brackets and braces a value leaves open (strings and comments skipped)."""
    depth, quote, i = 0, "", 0
    while i < len(value):
        c = value[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth


class TomlLines:
    """The first line declaring each path of a TOML file."""

    def __init__(self, text: str) -> None:
        self.entries: dict[Loc, int] = {}
        self._arrays: dict[Loc, int] = {}
        self._scan(text)

    def line_of(self, loc: Loc) -> int | None:
        for n in range(len(loc), 0, -1):
            line = self.entries.get(loc[:n])
            if line is not None:
                return line
        return None

    def _scan(self, text: str) -> None:
        table: Loc = ()
        open_depth, closing = 0, ""
        for number, line in enumerate(text.splitlines(), start=1):
            if closing:  # inside a multi-line string
                closing = "" if closing in line else closing
                continue
            if open_depth > 0:  # inside a multi-line array or table
                open_depth += _depth(line)
                continue
            table, opened = self._line(line, number, table)
            if opened.startswith(('"""', "'''")) and opened.count(opened[:3]) == 1:
                closing = opened[:3]
            else:
                open_depth = max(0, _depth(opened))

    def _line(self, line: str, number: int, table: Loc) -> tuple[Loc, str]:
        """Record what one line declares; returns the table it leaves open and its value."""
        if header := _ARRAY_HEADER.match(line):
            parts = _parts(header.group(1))
            array = (*self._resolve(parts[:-1]), parts[-1])
            self._arrays[array] = self._arrays.get(array, -1) + 1
            self.entries.setdefault(array, number)
            table = (*array, self._arrays[array])
            self.entries[table] = number
            return table, ""
        if header := _TABLE_HEADER.match(line):
            table = self._resolve(_parts(header.group(1)))
            self.entries.setdefault(table, number)
            return table, ""
        if key := _KEY_LINE.match(line):
            path = table + tuple(_parts(key.group(1)))
            self.entries.setdefault(path, number)
            value = key.group(2).strip()
            for inner in _INLINE_KEY.findall(value):  # `oauth = { token_url = "…" }`
                self.entries.setdefault((*path, *_parts(inner)), number)
            return table, value
        return table, ""

    def _resolve(self, parts: list[str]) -> Loc:
        """A dotted table name with each array of tables at its latest item."""
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            index = self._arrays.get(tuple(out))
            if index is not None:
                out.append(index)
        return tuple(out)


class YamlLines:
    """Lines of a YAML file's fields, from its composed nodes."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line_of(self, loc: Loc) -> int | None:
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                found = next(((k, v) for k, v in node.value if _is_key(k, part)), None)
                if found is None:
                    return line
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _is_key(node: yaml.Node, part: str | int) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def yaml_duplicates(node: yaml.Node | None, loc: Loc = ()) -> Iterator[tuple[Loc, int]]:
    """Keys written twice in one mapping (PyYAML would silently keep the last): each second
    one's path and line."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
            if name in seen:
                yield (*loc, name), key.start_mark.line + 1
            seen.add(name)
            yield from yaml_duplicates(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from yaml_duplicates(item, (*loc, index))
