#!/bin/sh
# Installs the Debian packages the test suite and `make run` use, when they are missing.
# Idempotent and quiet when everything is present. Needs root (CI runs as root); as another
# user it prints what to install instead.
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }

have pg_ctl "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -n 1)" || need="$need postgresql"
have git /usr/bin/git || need="$need git"
if [ "${ESTAFETTE_SKIP_DOCKER:-false}" != "true" ]; then
  have dockerd /usr/sbin/dockerd || need="$need docker.io"
  have busybox /bin/busybox || need="$need busybox-static"
  # the images' base for tests/deploy (no registry can be reached): Debian made with debootstrap
  have debootstrap /usr/sbin/debootstrap || need="$need debootstrap"
fi
have bwrap /usr/bin/bwrap || need="$need bubblewrap"
if [ "${ESTAFETTE_SKIP_BROWSER:-false}" != "true" ]; then
  have chromium /usr/bin/chromium || need="$need chromium"
fi

[ -z "$need" ] && exit 0

if [ "$(id -u)" != "0" ]; then
  echo "missing system packages:$need" >&2
  echo "install them with: sudo apt-get install -y$need" >&2
  exit 1
fi
echo "installing system packages:$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
