"""Moved to :mod:`playground.slack.workspace` (see :mod:`tests.fakes.slack_api`)."""

from playground.slack.workspace import Handler, SlackApiErrorResponse, Workspace

__all__ = ["Handler", "SlackApiErrorResponse", "Workspace"]
