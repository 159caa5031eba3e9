"""WebSocket credentials: capability-token headers and HS256 JWTs."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from codex_client import AuthError, CapabilityTokenAuth, Endpoint, NoAuth, SignedBearerTokenAuth

SECRET = "an-hs256-shared-secret-of-at-least-32-bytes"


def test_no_auth_sends_no_header() -> None:
    """NoAuth adds nothing to the upgrade request."""
    assert NoAuth().headers() == {}


def test_capability_token_is_read_trimmed_on_every_call(tmp_path: Path) -> None:
    """The token file is trimmed and re-read each time, so a rotated token is picked up."""
    token_file = tmp_path / "token"
    token_file.write_text("  first-token\n")
    auth = CapabilityTokenAuth(token_file)
    assert auth.headers() == {"Authorization": "Bearer first-token"}
    token_file.write_text("second-token\n")
    assert auth.headers() == {"Authorization": "Bearer second-token"}


def test_missing_or_empty_credentials_are_auth_errors(tmp_path: Path) -> None:
    """An absent or blank file is an AuthError naming the file."""
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(AuthError, match="missing"):
        CapabilityTokenAuth(tmp_path / "missing").headers()
    with pytest.raises(AuthError, match="empty"):
        CapabilityTokenAuth(empty).headers()


def test_jwt_is_hs256_over_the_trimmed_secret_with_the_configured_claims(tmp_path: Path) -> None:
    """The JWT verifies with the trimmed secret and carries iss, aud, iat and exp = iat + ttl."""
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    auth = SignedBearerTokenAuth(
        secret_file, issuer="iss-1", audience="aud-1", ttl_seconds=120, clock=lambda: 1_000_000.5
    )
    scheme, token = auth.headers()["Authorization"].split(" ")
    claims = jwt.decode(
        token,
        SECRET.encode(),
        algorithms=["HS256"],
        audience="aud-1",
        issuer="iss-1",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims == {"iss": "iss-1", "aud": "aud-1", "iat": 1_000_000, "exp": 1_000_120}


def test_jwt_leaves_out_unset_issuer_and_audience_and_is_fresh_each_time(tmp_path: Path) -> None:
    """Without issuer/audience only iat/exp are sent, and each connect mints a new token."""
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    now = [100.0]
    auth = SignedBearerTokenAuth(secret_file, clock=lambda: now[0])
    first = auth.mint()
    now[0] = 200.0
    second = auth.mint()
    assert jwt.decode(
        first, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    ) == {
        "iat": 100,
        "exp": 400,
    }
    assert first != second


def test_a_short_secret_is_refused_before_connecting(tmp_path: Path) -> None:
    """A secret under 32 bytes (which the server would refuse) is an AuthError."""
    secret_file = tmp_path / "secret"
    secret_file.write_text("short\n")
    with pytest.raises(AuthError, match="shorter than 32 bytes"):
        SignedBearerTokenAuth(secret_file).mint()


def test_secrets_never_appear_in_reprs_or_errors(tmp_path: Path) -> None:
    """Auth objects and endpoints show paths only; errors never quote file contents."""
    secret_file = tmp_path / "secret"
    secret_file.write_text("tiny-secret")
    auth = SignedBearerTokenAuth(secret_file)
    endpoint = Endpoint(None, env={"OPENAI_API_KEY": "sk-top-secret"})
    with pytest.raises(AuthError) as caught:
        auth.mint()
    assert "tiny-secret" not in repr(auth) + str(caught.value)
    assert "sk-top-secret" not in repr(endpoint)


def test_endpoint_keys_and_validation() -> None:
    """A stdio endpoint's key is "stdio", a WebSocket one's is its URL; others are refused."""
    assert Endpoint(None).key == "stdio"
    assert Endpoint("ws://127.0.0.1:1").key == "ws://127.0.0.1:1"
    assert hash(Endpoint(None, env={"A": "b"}, command=["codex", "app-server"])) == hash(
        Endpoint(None, command=("codex", "app-server"))
    )
    with pytest.raises(ValueError, match="ws://"):
        Endpoint("http://127.0.0.1:1")
