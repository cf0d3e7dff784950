"""Logging helpers: `warn_once` for messages that would otherwise repeat every step."""

from __future__ import annotations

import logging

_seen: set[str] = set()


def warn_once(logger: logging.Logger, message: str, *args: object) -> None:
    key = f"{logger.name}:{message}"
    if key in _seen:
        return
    _seen.add(key)
    logger.warning(message, *args)
