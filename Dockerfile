# syntax=docker/dockerfile:1
# live2d-notify in a container: non-root, the SQLite file on the /data volume, the page's Live2D
# runtime built in its own stage. Build and run (docs/deploy.md, "Docker"):
#   docker build -t live2d-notify .
#   docker run -d -p 127.0.0.1:8000:8000 -v live2d-notify-data:/data \
#     -e LIVE2D_NOTIFY_SECRET_KEYS="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" live2d-notify

# -- the page's npm packages (Live2D runtime, sample models), from the lockfile -------------------
FROM node:20-bookworm-slim AS page
WORKDIR /page
COPY static/package.json static/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# -- wheels for the package and everything it needs (redis included, for several processes) ------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels ".[redis]"

# -- the image -----------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 live2d \
 && useradd --system --uid 10001 --gid live2d --home-dir /app --no-create-home --shell /usr/sbin/nologin live2d
# The package and its dependencies come from the wheels built above, nothing from an index.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels "live2d-notify[redis]"
COPY static /app/static
COPY --from=page /page/node_modules /app/static/node_modules
RUN mkdir /data && chown live2d:live2d /data && chmod 0700 /data
# An installed package can't find static/ beside its source, so say where it is.
ENV LIVE2D_NOTIFY_DB=/data/live2d-notify.db \
    LIVE2D_NOTIFY_STATIC_DIR=/app/static
VOLUME ["/data"]
USER 10001:10001
WORKDIR /app
EXPOSE 8000
# Liveness only (/healthz); /readyz is for load balancers and alerts. No curl in slim: Python's urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["live2d-notify", "serve", "--host", "0.0.0.0", "--port", "8000"]
