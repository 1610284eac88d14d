# Navigator: a multi-stage image on Node 22, a supported LTS (Node 20 left LTS in April 2026). Build with
# `docker build -t navigator .`; run with tokens from the environment and the data as a volume:
#   docker run -p 8080:8080 -e NAVIGATOR_PIPELINE_TOKEN=... -e NAVIGATOR_ADMIN_TOKEN=... \
#     -e PROMETHEUS_URL=http://prometheus:9090 -v navigator-data:/data navigator
# The image's config (config/docker.yaml) listens on all interfaces and therefore requires tokens: without
# them it exits naming the unset variable. Mount your own config at /config/navigator.yaml to replace it.

# 1. Build: all dependencies (TypeScript), compile to dist/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 && npx tsc -p tsconfig.build.json

# 2. Production dependencies only (better-sqlite3 is built here, for the runtime's Node).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY bin ./bin
RUN npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3

# 3. Runtime: no compilers, tini as PID 1 (signals forwarded, zombies reaped), a non-root user, config and
# data as mounts, a health check.
FROM node:22-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production NODE_OPTIONS=--max-old-space-size=256 NAVIGATOR_CONFIG=/config/navigator.yaml NAVIGATOR_STORE=/data/navigator.db
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json ./
COPY config/docker.yaml /config/navigator.yaml
RUN mkdir -p /data && chown -R node:node /data
USER node
VOLUME ["/data", "/config"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.NAVIGATOR_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/navigator.js"]
CMD ["serve"]
