# The server image: the API (gunicorn), the built web UI, and every manage.py command (migrate, consume, relay_outbox,
# send_cron_event, sweep_jobs, …) — one image for each process of the Helm chart (helm/estafette-ci).
#
#   docker build -f docker/server.Dockerfile -t estafette/estafette-ci-python-server:0.1.0 .
#
# BASE_IMAGE is any Debian-based image with python3 (3.11+) and its venv module; NODE_IMAGE has Node.js 20.19+ and
# npm. Only the last stage ships: a venv without pip, the application, the UI's static files; no compiler, no Node.js.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- the web UI (frontend/, Vite) -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
# The committed src/api/schema.d.ts is the API's types (make checks keeps it current): no Python needed here.
RUN npm run build

# --- the Python environment -----------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/estafette
COPY requirements.txt /src/requirements.txt
RUN /opt/estafette/bin/pip install -q -r /src/requirements.txt
COPY builder/ /src/builder/
# The builder distribution: the server imports its contracts, secrets and sandbox checks (and runs local jobs).
RUN /opt/estafette/bin/pip install -q --no-deps /src/builder \
 && /opt/estafette/bin/python -m pip uninstall -q -y pip \
 && find /opt/estafette -name '__pycache__' -prune -exec rm -rf {} +

# --- the application, its static files collected ---------------------------------------------------------------------
FROM python AS app
WORKDIR /app
COPY manage.py ./
COPY estafette/ estafette/
COPY pipelines/ pipelines/
COPY runs/ runs/
COPY builds/ builds/
COPY releases/ releases/
COPY triggers/ triggers/
COPY integrations/ integrations/
COPY migrate_from_estafette/ migrate_from_estafette/
COPY --from=ui /src/frontend/dist frontend/dist/
# Tests stay out of the image; the settings need a data dir and keys to load, so collectstatic gets throw-away ones.
RUN find . -type d -name tests -prune -exec rm -rf {} + \
 && find . \( -name 'testing.py' -o -name '*_testing.py' \) -delete \
 && ESTAFETTE_DATA_DIR=/tmp/collect ESTAFETTE_STATIC_ROOT=/app/static \
    /opt/estafette/bin/python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/collect \
 && chmod -R a+rX,go-w /app

# --- the image -------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# One unprivileged user, by number too (Kubernetes' runAsNonRoot checks the number).
RUN groupadd --system --gid 10001 estafette \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin estafette \
 && mkdir -p /var/lib/estafette \
 && chown 10001:10001 /var/lib/estafette \
 && chmod 0700 /var/lib/estafette
COPY --from=python /opt/estafette /opt/estafette
COPY --from=app /app /app
ENV PATH=/opt/estafette/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ESTAFETTE_DATA_DIR=/var/lib/estafette \
    ESTAFETTE_STATIC_ROOT=/app/static \
    ESTAFETTE_HTTP_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# The Procfile's web process, listening on every address of the container. Other processes: `python manage.py …`.
CMD ["gunicorn", "estafette.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", \
     "--threads", "128", "--access-logfile", "-", "--no-control-socket", "--worker-tmp-dir", "/dev/shm", \
     "--config", "python:estafette.gunicorn_conf"]
