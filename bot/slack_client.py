"""The Slack Web API client the bot uses: slack-sdk's, counting every call for metrics."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics


class MeteredWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` that counts calls by method and outcome (ok, ratelimited, error)."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", None)
            outcome = "ratelimited" if status == 429 else "error"
            self.metrics.slack_calls.labels(api_method, outcome).inc()
            if status == 429:
                self.metrics.rate_limited.labels(api_method).inc()
            raise
        except Exception:
            self.metrics.slack_calls.labels(api_method, "error").inc()
            raise
        self.metrics.slack_calls.labels(api_method, "ok").inc()
        return response
