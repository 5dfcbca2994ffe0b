#!/usr/bin/env bash
# The demo story, run by `make demo` inside throwaway clusters started by
# test/pgtest/pgrun (PGHOST, PGUSER, PGPASSWORD are set; ports 54329, 54330).
set -uo pipefail
cd "$(dirname "$0")/.."
rm -rf .demo .rolecd
trap 'rm -rf .demo .rolecd' EXIT
rolecd=bin/rolecd
export ANALYTICS_ADMIN_PASSWORD="$PGPASSWORD"   # analytics reads its admin password from this variable
export ROLECD_CREDENTIALS_ENV_ALLOW=ANALYTICS_ADMIN_PASSWORD   # which the operator allows (credentials.env_allow)
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

# A Hoop team's files, unchanged: they keep Hoop's meaning (a bare scope is
# its public schema, the CSV label lower-cased, "SELECT, INSERT" is a list),
# and a batch item naming an unknown resource fails alone (exit 1).
expect 2 $rolecd --repo roles.example plan -f demo/hoop/roles.csv
expect 1 $rolecd --repo roles.example plan -f demo/hoop/plan.yaml

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

# ---- GitOps: the daemon watches a Git repository -------------------------
# A local bare repository seeded from roles.example, a branch that adds a
# role, `rolecd daemon --once` (console reporter: no GitHub needed) plans the
# pull request, then applies it once merged.
demo=$PWD/.demo
git_() { git -C "$demo/work" -c user.name=demo -c user.email=demo@rolecd.invalid "$@"; }
git init -q --bare -b main "$demo/roles.git"
git init -q -b main "$demo/work"
mkdir -p "$demo/work/roles" && cp roles.example/* "$demo/work/roles/"
git_ add -A && git_ commit -q -m "Role files" && git_ remote add origin "$demo/roles.git" && git_ push -q origin main
cat > "$demo/rolecd.yaml" <<YAML
git:
  url: file://$demo/roles.git
  branch: main
  path: roles
  cache_dir: $demo/cache
console:                       # no github: section, so the console reporter
  pull_requests:
    - {number: 1, branch: add-auditor, title: "Add a read-only auditor on legacy"}
drift:
  schedule: "@every 1h"
  action: report
credentials:                   # the admin password sources role files may name
  env_allow: [ANALYTICS_ADMIN_PASSWORD]
YAML
step "git checkout -b add-auditor && (add an auditor role to roles/analytics.yaml) && git push"
git_ checkout -q -b add-auditor
cat >> "$demo/work/roles/analytics.yaml" <<YAML

  # Auditors read the legacy database.
  - resource: analytics
    role: auditor
    scopes: [legacy]
    privileges: [SELECT]
YAML
git_ commit -q -am "Add a read-only auditor on legacy" && git_ push -q origin add-auditor
expect 0 $rolecd --config "$demo/rolecd.yaml" --log-level warn daemon --once

step "git checkout main && git merge add-auditor && git push   # the pull request is merged"
git_ checkout -q main && git_ merge -q --no-ff -m "Merge pull request #1" add-auditor && git_ push -q origin main
expect 0 $rolecd --config "$demo/rolecd.yaml" --log-level warn daemon --once
expect 0 $rolecd --repo "$demo/work/roles" plan --resource analytics
expect 0 $rolecd sessions list --limit 6

# ---- The hub: the same resources, roles and sessions on the web ----------
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
DEMO_HUB_TOKEN=$token ROLECD_HUB_LOCAL_TOKEN_ENV=DEMO_HUB_TOKEN ROLECD_HUB_INSECURE_COOKIES=true \
	ROLECD_LISTEN=127.0.0.1:0 ROLECD_API_LISTEN=127.0.0.1:8081 $rolecd --config "$demo/rolecd.yaml" --log-level error daemon & hub=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null && break; sleep 0.1; done
step "open http://127.0.0.1:8081/hub/login/token?token=$token   # the hub; a one-time sign-in link"
if [ -t 0 ]; then read -r -p "demo: the hub serves until you press Enter " _; fi
kill "$hub" && wait "$hub"
echo
echo "demo: done. (make demo removes .demo and .rolecd; the clusters are gone too)"
