# Navigator: a multi-stage image. Build with `docker build -t navigator .`; run with the config and data as
# mounts: docker run -p 8080:8080 -v $PWD/config:/config:ro -v navigator-data:/data navigator
# (the config must listen on 0.0.0.0:8080 inside the container, which needs auth.tokens configured).

# 1. Build: all dependencies (TypeScript), compile to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 && npx tsc -p tsconfig.build.json

# 2. Production dependencies only (better-sqlite3 is built here, for the runtime's Node).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY bin ./bin
RUN npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3

# 3. Runtime: no compilers, a non-root user, config and data as mounts, a health check.
FROM node:20-bookworm-slim
ENV NODE_ENV=production NODE_OPTIONS=--max-old-space-size=256 NAVIGATOR_CONFIG=/config/navigator.yaml NAVIGATOR_STORE=/data/navigator.db
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json ./
COPY config/navigator.yaml /config/navigator.yaml
RUN mkdir -p /data && chown -R node:node /data
USER node
VOLUME ["/data", "/config"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.NAVIGATOR_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/navigator.js"]
CMD ["serve"]
