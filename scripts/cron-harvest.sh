#!/usr/bin/env bash
# Cron wrapper: run one harvest from the checkout this script lives in.
# Output goes to cron's mail only when something failed (exit status non-zero).
#   */15 * * * *  /srv/hiljade/scripts/cron-harvest.sh
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! .venv/bin/hiljade harvest >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
