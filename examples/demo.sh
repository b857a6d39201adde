#!/usr/bin/env bash
# A tour of alpana-hooks on a throwaway database, with a local receiver: run with `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
listener=""
cleanup() {
    if [ -n "$listener" ]; then kill -TERM "$listener" 2>/dev/null || true; wait "$listener" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
export ALPANA_HOOKS_DB="$work/hooks.db" ALPANA_HOOKS_CONFIG="$here/config.toml" COLUMNS="${COLUMNS:-120}"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi  # no escape codes into a file
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '%s$ alpana-hooks %s%s\n' "$bold" "$*" "$plain"; alpana-hooks "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"

say "Two tenants subscribe to events (the signing secret is shown once, at add)"
secret="$(printf 'Authorization: Bearer s3cr3t\n' | alpana-hooks add -t acme --event dashboard.updated --url "$url/acme/bi" --header-file - --description 'BI sync' --json | json_field '["secret"]')"
run add -t acme --event widget.added --url "$url/acme/widgets"
run add -t acme --event dashboard.deleted --url "http://127.0.0.1:9/down" --description 'an endpoint that is down'
run add -t globex --event dashboard.updated --url "$url/globex"
run list -t acme

say "A local receiver checks signatures with the BI subscription's secret (the others have their own: they show invalid)"
ALPANA_HOOKS_SECRET="$secret" alpana-hooks listen --port "$port" >"$work/listen.log" 2>&1 &   # not --secret: ps shows argv
listener=$!
for _ in $(seq 50); do grep -q "listening on" "$work/listen.log" 2>/dev/null && break; sleep 0.1; done

say "Events fire to every active subscription of the tenant"
run emit dashboard.updated -t acme --id 42 --name Sales --version 3 --item-url https://bi.example.com/acme/dashboards/42
run emit dashboard.updated -t acme --id 42 --name 'Sales EMEA' --version 3 --item-url https://bi.example.com/acme/dashboards/42
run emit dashboard.updated -t acme --id 42 --name 'Sales EMEA' --version 2 --item-url https://bi.example.com/acme/dashboards/42
run emit widget.added -t acme --id 7 --name Revenue --item-url https://bi.example.com/acme/widgets/7
run emit dashboard.updated -t globex --id 1 --name Ops --version 1 --item-url https://bi.example.com/globex/dashboards/1

say "One delivery fails (exit 4): the attempt is recorded and a retry is scheduled"
run emit dashboard.deleted -t acme --id 42 --name 'Sales EMEA' || echo "(exit $?)"
run attempts list -t acme

say "On call: fix the endpoint, then resend what failed"
failed="$(alpana-hooks attempts list -t acme --status failed --json | json_field '[0]["id"]')"
run attempts show "$failed" -t acme
run edit 3 -t acme --url "$url/acme/deleted"
run resend --failed --since 1h -t acme --dry-run
run resend --failed --since 1h -t acme --yes
run events list -t acme

say "A payload filter: globex's second subscription wants only the Ops dashboard"
run add -t globex --event dashboard.updated --url "$url/globex/ops" --filter "data.name == 'Ops'"
run emit dashboard.updated -t globex --id 2 --name Finance --version 1 --item-url https://bi.example.com/globex/dashboards/2 --dry-run
run emit dashboard.updated -t globex --id 2 --name Finance --version 1 --item-url https://bi.example.com/globex/dashboards/2
printf '{"dashboard_id": "1", "name": "Ops", "url": "https://bi.example.com/globex/dashboards/1"}' >"$work/ops.json"
ops_id="$(alpana-hooks list -t globex --json | json_field '[-1]["id"]')"
run filter test "$ops_id" -t globex --data "@$work/ops.json"

say "Stats at a glance: attempts, success rate, durations, health and activity per subscription"
run stats -t acme

say "What the receiver saw"
kill -TERM "$listener"; wait "$listener" || true; listener=""
cat "$work/listen.log"
