"""Unexpected errors, as a merchant and an operator see them.

The merchant never reads an exception's class or text: the page says in plain words what
stopped and when it is tried again, with a short reference. The log has the same reference
next to the traceback, so support finds the one from the other.
"""

from __future__ import annotations

import logging
import secrets


def new_reference() -> str:
    """Eight hex characters: short enough to read out, enough to find one incident in the logs."""
    return secrets.token_hex(4)


def log_unexpected(logger: logging.Logger, error: BaseException, what: str, *args: object) -> str:
    """Log ``error`` with its traceback under a new reference (also kept on the exception, so a
    caller up the stack can name it instead of logging the traceback again); answer it."""
    reference = new_reference()
    logger.error(f"{what} (reference %s)", *args, reference, exc_info=error)
    error.reference = reference  # type: ignore[attr-defined]
    return reference
