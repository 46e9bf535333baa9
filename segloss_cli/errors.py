"""Errors that reach the user as one line and a documented exit code.

Exit codes (conventions.md): 0 ok, 1 a requirement failed, 2 usage or input error,
3 internal error (a bug in segloss), 130 interrupted, 143 terminated.

Library code words its messages in terms of its own parameters, written ``@name`` (or
``@name=VALUE`` for an example value) in the message. ``str(error)`` reads them as Python
keywords (``spacing_mm=1``); the command line renders the same error with its option names
(``--spacing 1``) through :meth:`SeglossError.render`, so one message serves both audiences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

EXIT_REQUIREMENT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_PARAM = re.compile(r"@([a-z_][a-z0-9_]*)(?:=([^\s,;)]+))?")  # lesion_volume_threshold_mm3 has a digit

# Every parameter a library message may name; anything else after an @ is left as written
# (a path or a user's text may hold one). The CLI maps each to its option (cli/_common.py).
PARAMETERS = set(
    {
        "spacing_mm",
        "labels",
        "regions",
        "storage_options",
        "include_background",
        "ignore_label",
        "label_names",
        "pred_type",
        "channel_axis",
        "threshold",
        "npz_key",
        "axes",
        "pred_ext",
        "recursive",
        "renormalize",
        "metrics",
        "losses",
        "weights",
        "empty_policy",
        "empty_values",
        "convention",
        "assd_mode",
        "reduction",
        "pooled_means",
        "hd_mode",
        "surface",
        "distance_metric",
        "gt_type",
        "hd_percentile",
        "nsd_tolerance_mm",
        "worst_distance_mm",
        "boundary_iou_ratio",
        "lesion_preset",
        "lesion_dilation",
        "lesion_connectivity",
        "lesion_volume_threshold_mm3",
        "lesion_worst_hd95_mm",
        "lesion_iou_threshold",
        "require",
        "require_file",
        "missing",
        "jobs",
        "pred_suffix",
        "gt_suffix",
        "pattern",
        "palette",
        "masks",
        "aggregate",
        "shard",
        "scheduler",
        "batch_size",
        "connect_timeout_s",
    }
)


def declare_parameters(*names: str) -> None:
    """Add parameter names a module's messages use (the loss registry declares its own)."""
    PARAMETERS.update(names)


def _python_value(text: str) -> str:
    try:
        float(text)
        return text
    except ValueError:
        return text if text in ("True", "False", "None") else repr(text)


def render_params(text: str, options: Optional[Mapping[str, str]] = None) -> str:
    """``@name`` / ``@name=VALUE`` as Python keywords, or as command-line options from ``options``."""

    def one(m: re.Match) -> str:
        name, value = m.group(1), m.group(2)
        if name not in PARAMETERS:
            return m.group(0)
        option = None if options is None else options.get(name)
        if option is None:
            return name if value is None else f"{name}={_python_value(value)}"
        if value is None or value == "True":
            return option
        return f"{option} {value}"

    return _PARAM.sub(one, text)


class SeglossError(ValueError):
    """An error segloss explains to the user: message is one line, with the fix.

    A ValueError, so library callers can catch bad input the usual Python way.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.render()

    def render(self, options: Optional[Mapping[str, str]] = None) -> str:
        """The message, with parameters named as ``options`` maps them (e.g. CLI options)."""
        text = render_params(self.message, options)
        return f"{self.path}: {text}" if self.path else text


class UsageError(SeglossError):
    """Bad option or option combination."""


class InputError(SeglossError):
    """An input file is missing, unreadable, malformed or does not match its partner."""


class DuplicateKey(ValueError):
    """A JSON object with a key twice (raised by :func:`unique_keys`; args[0] is the key)."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for json.loads: an object whose keys are distinct. Python's json
    keeps the last of repeated keys, so an edited file could say two things at once."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out
