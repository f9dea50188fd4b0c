# syntax=docker/dockerfile:1.7
# One image for every service of the pipeline; the service is chosen by the command:
#   docker run aims-kpi-pipeline                                   # collector (default)
#   docker run aims-kpi-pipeline dist/services/processor/main.js
#   docker run aims-kpi-pipeline dist/services/alerter/main.js
#   docker run aims-kpi-pipeline dist/services/demo/main.js --rate 50
# Containers always talk to a ClickHouse server (CLICKHOUSE_URL): the image leaves out chDB, the embedded
# ClickHouse library (an optional dependency, ~566 MB); a container started without CLICKHOUSE_URL stops
# with a message saying so. The build stage still installs it (tsc reads its types).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, TypeScript → dist/ ---------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: chDB's optional macOS/arm64 libraries are absent from the lock file (see README).
RUN --mount=type=cache,target=/root/.npm npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY services ./services
COPY deploy/clickhouse ./deploy/clickhouse
COPY deploy/kafka ./deploy/kafka
COPY deploy/tls ./deploy/tls
RUN npx tsc -p tsconfig.build.json

# ---- production dependencies only, without the optional ones (chDB; msgpackr's native speed-up) --------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --omit=optional --no-audit --no-fund \
 && test ! -e node_modules/chdb

# ---- runtime ------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    DATA_DIR=/var/lib/aims \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# Migrations are read at run time next to the compiled migrate.js (dist/shared/clickhouse → ../../deploy/...).
COPY --chown=root:root deploy/clickhouse/migrations ./dist/deploy/clickhouse/migrations
# The review page's static files are read next to the compiled mount.js.
COPY --chown=root:root services/processor/review-page/page.html services/processor/review-page/page.css services/processor/review-page/page.js services/processor/review-page/review-packs.js ./dist/services/processor/review-page/
# The image's built-in unprivileged user (uid 1000); only the data folder is writable.
RUN mkdir -p /var/lib/aims && chown node:node /var/lib/aims
USER node
EXPOSE 8080
# Liveness without curl/wget in the slim image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/services/collector/main.js"]
