"""Read a TOML file: ``tomllib`` on Python >= 3.11, a small subset parser on 3.10.

The subset covers what a requirements file needs: comments, ``[table]`` / ``[a.b]`` headers,
``key = value`` with dotted bare or quoted keys, and values that are basic or literal strings
(one line), integers, floats, booleans and arrays of those (across lines, trailing comma
allowed). Anything else (multi-line strings, inline tables, dates, arrays of tables) is
reported as unsupported rather than misread.
"""

from __future__ import annotations

import re
from typing import Any

_SCALAR = re.compile(r"[A-Za-z0-9_+\-.]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


class TomlError(ValueError):
    pass


def loads(text: str) -> dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]  # Python >= 3.11
    except ImportError:  # Python 3.10
        return loads_subset(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(str(exc)) from None


def loads_subset(text: str) -> dict[str, Any]:
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self.s = text.replace("\r\n", "\n")
        self.i = 0

    # -- helpers -----------------------------------------------------------------------------
    def error(self, what: str) -> TomlError:
        line = self.s.count("\n", 0, self.i) + 1
        return TomlError(f"line {line}: {what}")

    def unsupported(self, what: str) -> TomlError:
        return self.error(
            f"{what} is not supported by segloss's TOML reader on Python 3.10 (strings, numbers, "
            "booleans and arrays of them); simplify the file or use Python 3.11+"
        )

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_space(self, newlines: bool = False) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                break

    def end_of_line(self) -> None:
        self.skip_space()
        if self.i < len(self.s) and self.s[self.i] != "\n":
            raise self.error(f"unexpected text {self.s[self.i : self.i + 20]!r}")

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> dict[str, Any]:
        root: dict[str, Any] = {}
        table = root
        while True:
            self.skip_space(newlines=True)
            if self.i >= len(self.s):
                return root
            if self.s.startswith("[[", self.i):
                raise self.unsupported("an array of tables ([[...]])")
            if self.peek() == "[":
                self.i += 1
                keys = self.key(end="]")
                self.i += 1
                table = root
                for k in keys:
                    table = table.setdefault(k, {})
                    if not isinstance(table, dict):
                        raise self.error(f"'{k}' is both a value and a table")
                self.end_of_line()
                continue
            keys = self.key(end="=")
            self.i += 1
            self.skip_space()
            value = self.value()
            target = table
            for k in keys[:-1]:
                target = target.setdefault(k, {})
                if not isinstance(target, dict):
                    raise self.error(f"'{k}' is both a value and a table")
            if keys[-1] in target:
                raise self.error(f"key '{keys[-1]}' defined twice")
            target[keys[-1]] = value
            self.end_of_line()

    def key(self, end: str) -> list[str]:
        parts = []
        while True:
            self.skip_space()
            c = self.peek()
            if c == '"':
                parts.append(self.basic_string())
            elif c == "'":
                parts.append(self.literal_string())
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if not m:
                    raise self.error(f"expected a key, found {self.s[self.i : self.i + 20]!r}")
                parts.append(m.group())
                self.i = m.end()
            self.skip_space()
            c = self.peek()
            if c == ".":
                self.i += 1
                continue
            if c == end:
                return parts
            raise self.error(f"expected '{end}' after the key")

    def value(self) -> Any:
        c = self.peek()
        if c == '"':
            return self.basic_string()
        if c == "'":
            return self.literal_string()
        if c == "[":
            return self.array()
        if c == "{":
            raise self.unsupported("an inline table")
        m = _SCALAR.match(self.s, self.i)
        if not m:
            raise self.error("expected a value")
        self.i = m.end()
        token = m.group()
        if token in ("true", "false"):
            return token == "true"
        clean = token.replace("_", "")
        try:
            return int(clean, 0) if re.fullmatch(r"[+-]?(0[xob])?[0-9a-fA-F]+", clean) else float(clean)
        except ValueError:
            raise self.unsupported(f"the value {token!r}") from None

    def array(self) -> list:
        self.i += 1
        out: list = []
        while True:
            self.skip_space(newlines=True)
            if self.peek() == "]":
                self.i += 1
                return out
            if not self.peek():
                raise self.error("unterminated array")
            out.append(self.value())
            self.skip_space(newlines=True)
            c = self.peek()
            if c == ",":
                self.i += 1
            elif c != "]":
                raise self.error("expected ',' or ']' in the array")

    def basic_string(self) -> str:
        if self.s.startswith('"""', self.i):
            raise self.unsupported("a multi-line string")
        self.i += 1
        out: list = []
        while True:
            if self.i >= len(self.s) or self.s[self.i] == "\n":
                raise self.error("unterminated string")
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "\\":
                e = self.s[self.i + 1 : self.i + 2]
                if e in _ESCAPES:
                    out.append(_ESCAPES[e])
                    self.i += 2
                elif e in ("u", "U"):
                    width = 4 if e == "u" else 8
                    digits = self.s[self.i + 2 : self.i + 2 + width]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.error("bad \\u escape") from None
                    self.i += 2 + width
                else:
                    raise self.error(f"bad escape '\\{e}'")
                continue
            out.append(c)
            self.i += 1

    def literal_string(self) -> str:
        if self.s.startswith("'''", self.i):
            raise self.unsupported("a multi-line string")
        end = self.s.find("'", self.i + 1)
        newline = self.s.find("\n", self.i + 1)
        if end < 0 or (0 <= newline < end):
            raise self.error("unterminated string")
        value = self.s[self.i + 1 : end]
        self.i = end + 1
        return value
