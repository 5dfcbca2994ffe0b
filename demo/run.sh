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
sid=$(sed -n 's/^  "sid": "\(.*\)",$/\1/p' .demo/plan.json)
expect 2 $rolecd --repo roles.example plan --resource analytics --role auditor --scopes legacy --privileges select

# Apply exactly the reviewed plan, then read a generated credential and use it.
expect 0 $rolecd --repo roles.example apply --sid "$sid"
role=$($rolecd --repo roles.example --output json plan --resource analytics 2>/dev/null | sed -n 's/.*"role_name": "\(rolecd_analytics_ro_[0-9a-f]*\)".*/\1/p' | head -n 1)
expect 0 $rolecd --repo roles.example creds get "$role"
uri=$($rolecd --repo roles.example --output json creds get "$role" 2>/dev/null | sed -n 's/.*"uri": "\(.*\)".*/\1/p')
step "psql \"\$uri\" -c 'SELECT count(*) FROM public.events'   # as $role"
psql -X "$uri" -c 'SELECT count(*) FROM public.events' || exit 1
expect 0 $rolecd --repo roles.example plan

# A reviewed plan is applied only if the database still matches it: here
# someone creates the role by hand between review and apply: refused, exit 3.
expect 2 $rolecd --repo roles.example plan --resource analytics --role auditor --scopes legacy --privileges select -o .demo/auditor.json
auditor=$(sed -n 's/.*"role_name": "\(rolecd_analytics_auditor_[0-9a-f]*\)".*/\1/p' .demo/auditor.json)
step "psql -p 54329 -c 'CREATE ROLE $auditor LOGIN CREATEDB'   # out of band, after review"
psql -X -q -p 54329 -d postgres -c "CREATE ROLE $auditor LOGIN CREATEDB" || exit 1
expect 3 $rolecd --repo roles.example apply -f .demo/auditor.json

# Drift on a managed role: a hand-made GRANT is found and revoked.
step "psql -p 54329 -d analytics -c 'GRANT INSERT ON public.events TO $role'   # out of band"
psql -X -q -p 54329 -d analytics -c "GRANT INSERT ON public.events TO $role" || exit 1
expect 2 $rolecd --repo roles.example plan --resource analytics -o .demo/fix.json
expect 0 $rolecd --repo roles.example apply -f .demo/fix.json
expect 0 $rolecd --repo roles.example plan
expect 0 $rolecd --repo roles.example sessions list --limit 8
echo
echo "demo: done. The audit trail is in .rolecd/rolecd.db; see the README for the daemon."
