"""The scripted, fault-injecting app-server double, now shipped as :mod:`codex_client.testing`.

Kept so existing importers (``bench/streaming.py``) go on working; new code imports
``codex_client.testing`` directly.
"""

from codex_client.testing import FakeAppServer, TurnLog

__all__ = ["FakeAppServer", "TurnLog"]
