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
