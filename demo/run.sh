#!/usr/bin/env bash
# The demo story, run by `make demo` inside throwaway clusters started by
# test/pgtest/pgrun (PGHOST, PGUSER, PGPASSWORD are set; ports 54329, 54330).
set -uo pipefail
cd "$(dirname "$0")/.."
rolecd=bin/rolecd
export ANALYTICS_ADMIN_PASSWORD="$PGPASSWORD"   # analytics reads its admin password from this variable
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
expect() { # expect CODE CMD...: run CMD, fail the demo unless it exits CODE
	local want=$1; shift
	step "$*"
	"$@"; local got=$?
	if [ "$got" != "$want" ]; then echo "demo: '$*' exited $got, expected $want" >&2; exit 1; fi
	echo "(exit $got)"
}

psql -X -q -v ON_ERROR_STOP=1 -p 54329 -d postgres -f demo/analytics.sql >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -p 54330 -d postgres -f demo/billing.sql >/dev/null || exit 1
mkdir -p .demo

expect 0 $rolecd validate roles.example
expect 1 $rolecd validate demo/broken
expect 0 $rolecd --repo roles.example health
expect 2 $rolecd --repo roles.example plan -o .demo/plan.json
step "jq-free look at the plan document: .demo/plan.json"
head -c 600 .demo/plan.json; echo " ..."
expect 2 $rolecd --repo roles.example plan --resource analytics --role auditor --scopes legacy --privileges select
echo
echo "demo: done. Next steps (apply, the daemon) are described in the README."
