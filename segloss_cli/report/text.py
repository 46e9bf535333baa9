"""User text (class names, case ids, file names, requirement texts) as it is printed: never
read as rich markup, and never a control character that a terminal would act on.

A class name comes from a label file or a NIfTI header extension, a case id from a file name:
an escape sequence there (``\\x1b[2J`` clears the screen, ``\\x1b]0;...`` sets the window title),
a newline (a table row or an error line split in two) or a bidirectional override (text shown
in another order than it is) is shown as its Python escape instead.
"""

from __future__ import annotations

import re

from rich.markup import escape as _markup_escape

# C0 controls, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character as its escape (``\\n``, ``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


def escape(text: str) -> str:
    """``text`` for a rich table cell or line: printable, and its markup shown as written."""
    return _markup_escape(printable(text))


MAX_WORD = 400  # characters of one echoed value (a path, an option's text) shown whole
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD + 1},}}")
MAX_LINE = 2000  # characters of one message line


def _cut(text: str, keep_head: int, keep_tail: int) -> str:
    left = len(text) - keep_head - keep_tail
    return f"{text[:keep_head]}...({left:,} characters left out)...{text[len(text) - keep_tail :]}"


def one_line(text: str) -> str:
    """An error or warning line as printed: :func:`printable`, and every echoed value longer
    than MAX_WORD characters (a 1 MB option value, a 100,000-character file name) cut in its
    middle with an ellipsis that says how much is left out, the line at most about MAX_LINE
    characters, so the message and its fix stay one readable line."""
    text = printable(text)
    if len(text) <= MAX_WORD:
        return text
    text = _LONG_WORD.sub(lambda m: _cut(m.group(0), 240, 120), text)
    return text if len(text) <= MAX_LINE else _cut(text, MAX_LINE // 2, MAX_LINE // 2 - 100)
