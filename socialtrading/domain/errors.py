"""Domain errors: a small hierarchy with stable codes that clients can rely on."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose. `code` is stable."""

    code = "domain_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidCommand(DomainError):  # noqa: N818 (a verdict on a command, not a failure of ours)
    """The command is malformed for the state it meets (unknown market, price off the tick...).

    Nothing is stored.
    """


class Refused(DomainError):  # noqa: N818
    """A well-formed command that the rules refuse (insufficient funds, not authorized...)."""
