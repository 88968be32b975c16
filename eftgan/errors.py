"""Exceptions that carry a message meant for the user.

A :class:`UserError` is raised for problems the user can fix (a bad file, an unknown element, a
missing path). The command line prints its message as one line and exits with code 2; the
Python API lets it propagate like any other ``ValueError``.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, with a message that names the problem and the fix."""


class UnknownElementError(UserError, KeyError):
    """An element symbol that does not exist, or that a model does not support."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(UserError):
    """A model folder that is missing, damaged, tampered with or from another format version."""
