# cutover: build the TypeScript, then a small runtime image with production
# dependencies only.
#   docker build -t cutover .
#   docker run -v ./cutover.yaml:/etc/cutover/cutover.yaml:ro -v cutover-state:/var/lib/cutover \
#     -e CUTOVER_TOKEN=... -p 8080:8080 -p 127.0.0.1:9901:9901 --stop-timeout 45 cutover
# More in deploy/README.md.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so this layer is reused until the lockfile changes. No scripts:
# `prepare` would build before the sources are here.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# A fixed uid (not the image's uid 1000 "node") that Kubernetes securityContext and
# volume ownership can name. npm, npx, corepack and yarn are not needed at run time; they
# only add to what a scanner flags.
RUN groupadd --gid 10001 cutover \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin cutover \
 && mkdir -p /etc/cutover /var/lib/cutover \
 && chown 10001:10001 /var/lib/cutover \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
# Root-owned and read-only for the service user: it can write only its state volume.
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER 10001:10001
# state.path: /var/lib/cutover/state.json in the mounted config.
VOLUME ["/var/lib/cutover"]
EXPOSE 8080 9901
# The control listener serves /healthz; 127.0.0.1 works whether it listens on 0.0.0.0
# or on loopback. node's fetch, since slim images have no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9901/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Arguments after the image name go to cutover (`docker run IMAGE check --config ...`,
# `... ctl status`); a command that starts with `node` runs as given. exec keeps node as
# PID 1, so it gets SIGTERM (drain) and SIGHUP (reload) itself; Docker's stop timeout
# must exceed proxy.drain_timeout (--stop-timeout 45).
# node's flags are bin/cutover.js's first line (heap sizing, see the README's "Memory").
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$1\" = node ]; then exec \"$@\"; fi; exec node --max-semi-space-size=8 --heap-growing-percent=50 --no-maglev bin/cutover.js \"$@\"", "cutover"]
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "--no-maglev", "bin/cutover.js", "--config", "/etc/cutover/cutover.yaml"]
