# The Anfu API server. Configure with DATABASE_URL (postgres://...), CACHE_URL (redis://...),
# ANFU_ENV=production and ANFU_JWT_SECRET (32+ bytes). Run `anfu migrate` once per release
# (docker-compose.yml does it in its `migrate` service) before starting servers.
FROM python:3.11-slim AS build
WORKDIR /src
# Wheels of exactly the versions in requirements.lock (`make lock`), built before the code is
# copied so that a code change reuses this layer.
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY auth auth
COPY core core
COPY cli cli
COPY graphiql graphiql
COPY models models
COPY plans plans
COPY resolvers resolvers
COPY schema schema
COPY services services
COPY transport transport
COPY server.py settings.py ./
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 anfu
COPY --from=build /wheels /wheels
# --no-index: only the locked wheels; a dependency missing from the lock fails the build.
RUN pip install --no-cache-dir --no-index /wheels/* && pip check && rm -rf /wheels
# The clients' trusted documents (`anfu persisted build`), for ANFU_PERSISTED=allowlist and
# for documentId requests.
COPY clients/manifest.json /usr/local/share/anfu/manifest.json
ENV ANFU_PERSISTED_MANIFEST=/usr/local/share/anfu/manifest.json
USER anfu
WORKDIR /home/anfu
ENV ANFU_ENV=production HOST=0.0.0.0 PORT=8000 PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["anfu", "serve", "--workers", "2"]
