# syntax=docker/dockerfile:1
# codex-slack bot image. Build from the repository root:
#   docker build -f docker/bot.Dockerfile -t codex-slack:0.1.0 .
# Runs as a non-root user with no compilers, no pip and no source tree; works with a read-only
# root filesystem (only /tmp needs to be writable).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: build the wheel and install it with its dependencies into /opt/venv ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY codex_client ./codex_client
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/pip uninstall --yes pip setuptools wheel

# --- runtime: the venv only --------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# The image's own pip/setuptools are not needed at run time either.
RUN python -m pip uninstall --yes pip setuptools wheel \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /app
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["codex-slack"]
# Socket Mode when SLACK_APP_TOKEN is set; pass `serve --http --port 3000` for HTTP mode.
CMD ["serve"]
