#!/usr/bin/env bash
# A tour of alpana-hooks on a throwaway database: run with `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ALPANA_HOOKS_DB="$work/hooks.db" ALPANA_HOOKS_CONFIG="$here/config.toml" ALPANA_HOOKS_TENANT=acme
step() { printf '\n\033[1m$ alpana-hooks %s\033[0m\n' "$*"; alpana-hooks "$@"; }

step add --event dashboard.updated --url https://hooks.example.com/bi --header 'Authorization: Bearer s3cr3t' --description 'BI sync'
step add --event widget.added --url https://hooks.example.com/widgets
step list
step disable 2
step list --state disabled
step enable 2
step headers add 1 X-Team analytics
step headers list 1
step edit 1 --url https://hooks.example.com/bi/v2
step show 1
step delete 2 --yes
step list --json
step config show
