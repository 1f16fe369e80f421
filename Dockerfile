# Steward worker image. Runs `node bin/steward.js worker` (TypeScript through tsx, a runtime dependency).
# Contract: STEWARD_CONFIG names the config file (mounted, never copied in); TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE
# override temporal.address / temporal.namespace; the task queue is `steward`.
# No secret enters the image: SSH keys and passwords arrive at run time (a read-only mount and env references).
FROM node:20.19-bookworm-slim

ENV NODE_ENV=production \
    STEWARD_CONFIG=/etc/steward/steward.config.yaml \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app

# Dependencies first, so the layer is reused while package*.json are unchanged.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit && npm cache clean --force

COPY bin/ ./bin/
COPY src/ ./src/
# The compiled CLI and worker (dist/, scripts/build.js) and the worker's workflow bundle, made here as root: the
# image runs them as USER node without writing anything.
COPY scripts/build.js ./scripts/build.js
RUN node scripts/build.js --workflow-bundle

# Files stay owned by root and read-only to the worker; it runs as the image's unprivileged `node` user (uid 1000).
USER node

CMD ["node", "bin/steward.js", "worker"]
