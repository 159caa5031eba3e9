"""Moved to :mod:`playground.model.scripted`: the scripted Responses-API model ships with the
project as the base of the playground's demo model. Kept so existing imports work."""

from playground.model.scripted import (
    ModelRequest,
    ModelServer,
    ask_arguments,
    drip_text,
    long_text,
)

__all__ = ["ModelRequest", "ModelServer", "ask_arguments", "drip_text", "long_text"]
