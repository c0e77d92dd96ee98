# syntax=docker/dockerfile:1
# The m2m-sentinel service image. Two variants from one file:
#
#   docker build -t m2m-sentinel .                   full: embedded ClickHouse (chdb) included
#   docker build --target slim -t m2m-sentinel:slim .  server mode only (CLICKHOUSE_URL), ~540 MB smaller
#
# Every install runs `npm ci` against the committed package-lock.json (test/ops/install.test.ts runs
# these same commands with --dry-run in a clean copy of the two files). Scripts are not run:
# the native libraries come prebuilt in platform packages, and our own build is a step of its own.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies, with and without the optional embedded engine.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS deps-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HTTP_PORT=9464 \
    HTTP_HOST=0.0.0.0 \
    CLICKHOUSE_DATA_DIR=/data
# The embedded engine's data directory, owned by the unprivileged user the service runs as.
RUN mkdir -p /data && chown node:node /data
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root pipelines ./pipelines
COPY --chown=root:root schemas ./schemas
COPY --chown=root:root web ./web
COPY --from=build --chown=root:root /app/dist ./dist
USER node
EXPOSE 9464
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/m2m-sentinel.js"]
CMD ["run", "pipelines/"]

FROM runtime AS slim
COPY --from=deps-slim --chown=root:root /app/node_modules ./node_modules

# The default target (last stage): the full image, which also runs without a ClickHouse server.
FROM runtime AS full
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
