"""Errors that reach the user as one line and a documented exit code.

Exit codes (conventions.md): 0 ok, 1 a requirement failed, 2 usage or input error,
3 internal error (a bug in segloss), 130 interrupted, 143 terminated.
"""

EXIT_OK = 0
EXIT_REQUIREMENT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class SeglossError(Exception):
    """An error segloss explains to the user: message is one line, with the fix."""

    exit_code = EXIT_USAGE


class UsageError(SeglossError):
    """Bad option or option combination."""


class InputError(SeglossError):
    """An input file is missing, unreadable, malformed or does not match its partner."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
