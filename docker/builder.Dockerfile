# The builder image: `python -m builder job` runs one build, release or bot in a Kubernetes Job (estafette/jobs/
# kubernetes.py) or any container, with git for the git-clone stage and bubblewrap for the host executor's sandbox
# (builder/executors/sandbox.py); the docker executor needs only a Docker engine's socket (DOCKER_HOST).
#
#   docker build -f docker/builder.Dockerfile -t estafette/estafette-ci-builder-python:0.1.0 .
#
# BASE_IMAGE is any Debian-based image with python3 (3.11+) and its venv module. Only the last stage ships.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/estafette
COPY requirements.txt /src/requirements.txt
COPY builder/ /src/builder/
# The builder's own dependencies, at the versions the server pins (requirements.txt as constraints).
RUN /opt/estafette/bin/pip install -q --constraint /src/requirements.txt /src/builder \
 && /opt/estafette/bin/python -m pip uninstall -q -y pip \
 && find /opt/estafette -name '__pycache__' -prune -exec rm -rf {} + \
 && rm -rf /opt/estafette/lib/python3*/site-packages/builder/tests

FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends git bubblewrap ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 estafette \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/estafette --create-home --shell /bin/sh estafette \
 && mkdir -p /estafette-work \
 && chown 10001:10001 /estafette-work
COPY --from=python /opt/estafette /opt/estafette
ENV PATH=/opt/estafette/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/estafette
WORKDIR /estafette-work
USER 10001:10001
ENTRYPOINT ["python", "-m", "builder"]
CMD ["job"]
