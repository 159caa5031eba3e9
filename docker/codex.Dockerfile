# syntax=docker/dockerfile:1
# Codex app-server image: Node plus the pinned @openai/codex CLI. Build it from anywhere (it
# copies nothing from the context):
#   docker build -f docker/codex.Dockerfile -t codex-app-server:0.171.0 .
# Run it with WebSocket auth; the server refuses a non-loopback listener without it:
#   docker run -v codex-home:/codex-home -v ./secret:/secrets/jwt/secret:ro -e OPENAI_API_KEY \
#     -p 4500:4500 codex-app-server:0.171.0 --listen ws://0.0.0.0:4500 \
#     --ws-auth signed-bearer-token --ws-shared-secret-file /secrets/jwt/secret
# CODEX_HOME (/codex-home) holds config.toml, sessions and state: keep it on a volume.

FROM node:20-slim
ARG CODEX_VERSION=0.171.0
# git: the agents (and Codex's own repository detection) use it; ca-certificates: HTTPS to the
# OpenAI API. The CLI brings its own ripgrep and bubblewrap.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && npm install --global --no-audit --no-fund "@openai/codex@${CODEX_VERSION}" \
 && npm cache clean --force \
 && codex --version \
 && mkdir -p /codex-home /workspace \
 && chown node:node /codex-home /workspace
ENV CODEX_HOME=/codex-home \
    HOME=/home/node
# The node image's unprivileged user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
WORKDIR /workspace
VOLUME ["/codex-home"]
EXPOSE 4500
ENTRYPOINT ["codex", "app-server"]
