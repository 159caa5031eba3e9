"""Credentials for the app-server's WebSocket listener.

The server checks credentials once, on the HTTP upgrade, from an
``Authorization: Bearer <token>`` header:

- :class:`NoAuth` sends no header (a loopback listener started without ``--ws-auth``);
- :class:`CapabilityTokenAuth` sends a shared token, read from a file and trimmed of
  surrounding whitespace (``--ws-auth capability-token``);
- :class:`SignedBearerTokenAuth` sends an HS256 JWT signed with a shared secret
  (``--ws-auth signed-bearer-token``): the key is the secret file's bytes trimmed, the
  claims ``iat`` and ``exp`` (required by the server) plus ``iss``/``aud`` when configured.
  A fresh token is minted on every connect, so reconnects never present an expired one.

Files are read on every connect, so rotating a mounted secret needs no restart. The
objects hold paths, never secrets: their reprs and every error message are safe to log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from ._errors import AuthError

# The server refuses to start with a shorter HS256 secret; failing here names the cause.
MIN_SECRET_BYTES = 32


def _read_stripped(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise AuthError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    if not data:
        raise AuthError(f"the {what} file {path} is empty")
    return data


@dataclass(frozen=True)
class NoAuth:
    """No credentials."""

    def headers(self) -> dict[str, str]:
        """The upgrade headers to send: none."""
        return {}


@dataclass(frozen=True)
class CapabilityTokenAuth:
    """A shared capability token kept in ``token_file``."""

    token_file: Path

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` with the file's current, trimmed contents."""
        token = _read_stripped(Path(self.token_file), "capability token")
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            # Not chained, on purpose: the UnicodeDecodeError holds the token's bytes, and a
            # logged cause (or an error tracker's capture of it) would leak them.
            raise AuthError(f"the capability token in {self.token_file} is not ASCII") from None
        return {"Authorization": f"Bearer {text}"}


@dataclass(frozen=True)
class SignedBearerTokenAuth:
    """HS256 JWTs signed with the shared secret kept in ``secret_file``."""

    secret_file: Path
    issuer: str | None = None
    audience: str | None = None
    ttl_seconds: int = 300
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def mint(self) -> str:
        """A fresh token valid for ``ttl_seconds`` from now."""
        key = _read_stripped(Path(self.secret_file), "shared secret")
        if len(key) < MIN_SECRET_BYTES:
            raise AuthError(
                f"the shared secret in {self.secret_file} is shorter than {MIN_SECRET_BYTES} bytes"
            )
        now = int(self.clock())
        claims: dict[str, object] = {"iat": now, "exp": now + self.ttl_seconds}
        if self.issuer is not None:
            claims["iss"] = self.issuer
        if self.audience is not None:
            claims["aud"] = self.audience
        return jwt.encode(claims, key, algorithm="HS256")

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <fresh JWT>``."""
        return {"Authorization": f"Bearer {self.mint()}"}


Auth = NoAuth | CapabilityTokenAuth | SignedBearerTokenAuth
