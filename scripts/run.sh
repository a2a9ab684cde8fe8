#!/bin/sh
# `make run`: the Procfile's processes under honcho until Ctrl-C (or SIGTERM), then the local build jobs still
# running. Those run in sessions of their own (a consumer restart must not end a build), so stopping honcho's
# processes does not stop them; `manage.py stop_local_jobs` does, once nothing can start a new one.
set -u
cd "$(dirname "$0")/.."

.venv/bin/honcho start -f Procfile &
honcho=$!
# Ctrl-C reaches honcho too (same process group); SIGTERM (e.g. from make) only reaches this shell. Each signal is
# passed on as itself: honcho exits with the status of the last signal it got (130 for Ctrl-C, 143 for SIGTERM).
trap 'kill -INT "$honcho" 2>/dev/null' INT
trap 'kill -TERM "$honcho" 2>/dev/null' TERM HUP
status=0
while kill -0 "$honcho" 2>/dev/null; do
  wait "$honcho"
  status=$?
done

# A handler, not "ignore": the command gets Ctrl-C (to hurry) while this shell waits to exit with honcho's status.
trap ':' INT TERM HUP
.venv/bin/python manage.py stop_local_jobs
exit "$status"
