#!/usr/bin/env bash
# Cron wrapper: run one hiljade command (default: harvest) from the checkout this script lives in.
# It prints nothing unless the command fails, so cron mails the output only then.
#   */15 * * * *  /srv/hiljade/scripts/cron.sh harvest
#   */15 * * * *  /srv/hiljade/scripts/cron.sh process
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! .venv/bin/hiljade "${@:-harvest}" >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
