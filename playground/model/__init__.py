"""Responses-API models served on 127.0.0.1, for the real Codex app-server to call.

:mod:`~playground.model.scripted` answers directives (``HOLD``, ``EXEC``, ``ASK``…) that tests
put in their prompts; :mod:`~playground.model.demo` plays a canned agent for the playground.
"""
