#!/bin/sh
# `make run`: the Procfile's processes under supervisord (scripts/supervise.py) until Ctrl-C (or SIGTERM), then the
# local build jobs still running. A process that dies is started again and the others keep running. Jobs run in
# sessions of their own (a consumer restart must not end a build), so stopping the processes does not stop them;
# `manage.py stop_local_jobs` does, once nothing can start a new one.
set -u
cd "$(dirname "$0")/.."

data_dir=${ESTAFETTE_DATA_DIR:-var}
mkdir -p "$data_dir" && chmod 700 "$data_dir"
# Metrics of every process (gunicorn's workers, consumers…) meet in one directory (prometheus-client's multiprocess
# mode); it starts empty, as counters of a fresh process set do.
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  PROMETHEUS_MULTIPROC_DIR="$data_dir/metrics"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  export PROMETHEUS_MULTIPROC_DIR
fi

.venv/bin/python scripts/supervise.py --procfile Procfile --state-dir "$data_dir/supervisor" &
supervisor=$!
# Ctrl-C reaches supervisord too (same process group) unless the shell made it ignore SIGINT, as a non-interactive
# shell does for `&` commands: each signal is passed on. The set then ends with the status of that signal (130 for
# Ctrl-C, 143 for SIGTERM), as a foreground program stopped by it would.
got=0
trap 'got=130; kill -INT "$supervisor" 2>/dev/null' INT
trap 'got=143; kill -TERM "$supervisor" 2>/dev/null' TERM HUP
status=0
while kill -0 "$supervisor" 2>/dev/null; do
  wait "$supervisor"
  status=$?
done
[ "$got" -ne 0 ] && status=$got

# A handler, not "ignore": the command gets Ctrl-C (to hurry) while this shell waits to exit with the set's status.
trap ':' INT TERM HUP
.venv/bin/python manage.py stop_local_jobs
exit "$status"
