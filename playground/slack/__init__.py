"""The Slack emulator: what the bot sees of Slack, on 127.0.0.1.

- :mod:`~playground.slack.api`: the Web API and Socket Mode server (:class:`SlackFake`);
- :mod:`~playground.slack.workspace`: the workspace's state and its methods, without I/O;
- :mod:`~playground.slack.rules`: Slack's documented limits, rate windows and scopes;
- :mod:`~playground.slack.payloads`: what Slack sends an app (events, commands, clicks),
  signed as Slack signs them.
"""
