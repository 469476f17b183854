# The worker (and, with another command, the paper exchange or the `qt` client) built from the repo.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    # onnxruntime-node's install script would download a GPU runtime; the CPU binary ships in the package.
    ONNXRUNTIME_NODE_INSTALL=skip \
    # The image reaches a Temporal server of its own and trains nothing: no Python venv.
    QT_SKIP_VENV=1 \
    QT_HEALTH_PORT=8000

COPY package.json package-lock.json ./
COPY infra/postinstall.ts ./infra/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .
# The paper exchange keeps its state in a volume at /state, writable by the unprivileged user.
RUN mkdir -p /state && chown node:node /state
USER node

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://localhost:8000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

CMD ["npm", "run", "worker"]
