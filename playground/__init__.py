"""The playground: Slack and a model played on this machine, for the real bot to talk to.

- :mod:`playground.slack`: the Slack emulator (Web API, Socket Mode, files, streams, rate
  windows, fault windows) and the payloads Slack sends an app; the tests and benchmarks use
  it as their Slack too.
- :mod:`playground.model`: Responses-API models on 127.0.0.1 for the real Codex app-server:
  the scripted one the tests drive, and the canned demo agent the playground shows.
- :mod:`playground.codex_home`: the ``CODEX_HOME`` that points Codex at one of them (or at
  OpenAI).
"""
