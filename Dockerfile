# The Anfu API server. Configure with DATABASE_URL (postgres://...), CACHE_URL (redis://...) and
# ANFU_JWT_SECRET (32+ bytes); the image runs in production mode (JSON logs, no GraphiQL).
# Migrations are a separate one-shot command, run once per release before servers start:
#   docker run --rm -e DATABASE_URL=... IMAGE anfu migrate
# (docker-compose.yml does it in its `migrate` service). Lint: hadolint Dockerfile.

# Stage 1: wheels of exactly the versions in requirements.lock (`make lock`), built before the
# code is copied so that a code change reuses this layer; then the project's own wheel.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
# Every package pyproject.toml installs (tests/test_deployment.py keeps this list complete).
COPY auth auth
COPY channel channel
COPY cli cli
COPY core core
COPY graphiql graphiql
COPY models models
COPY plans plans
COPY resolvers resolvers
COPY schema schema
COPY services services
COPY transport transport
COPY server.py settings.py ./
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the runtime, without compilers or sources, as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 anfu
COPY --from=build /wheels /wheels
# --no-index: only the locked wheels; a dependency missing from the lock fails the build.
RUN pip install --no-cache-dir --no-index /wheels/* && pip check && rm -rf /wheels
# The clients' trusted documents (`anfu persisted build`), for ANFU_PERSISTED=allowlist and
# for documentId requests.
COPY clients/manifest.json /usr/local/share/anfu/manifest.json
ENV ANFU_PERSISTED_MANIFEST=/usr/local/share/anfu/manifest.json \
    ANFU_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001
WORKDIR /home/anfu
EXPOSE 8000
# Liveness only: /readyz (database and cache) is for the load balancer and orchestrators.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# SIGTERM (docker stop) lets requests in flight finish for up to SHUTDOWN_TIMEOUT_SECONDS (30):
# give the container a longer stop timeout than that (docker stop -t 40; compose's
# stop_grace_period). ANFU_WORKERS sets the processes (more than one: PostgreSQL and Redis).
STOPSIGNAL SIGTERM
CMD ["anfu", "serve"]
