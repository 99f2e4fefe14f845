#!/usr/bin/env bash
# bench/run.sh — one command for the figures in BENCHMARKS.md.
#
# Builds latchkey, starts `latchkey serve --dev` on a fresh temporary
# directory (SQLite) on free loopback ports, measures cold start to ready and
# idle RSS, runs `latchkey bench --scenario all --server-pid <pid>` and
# prints Markdown ready to paste. Extra arguments go to `latchkey bench`
# (e.g. --duration 10s, --scales 10000,1000000, --scenario whoami,baseline).
#
# Environment:
#   LATCHKEY_BIN   use this binary instead of building one
#   BENCH_DSN      serve on this database instead of a temporary SQLite file
#                  (e.g. postgres://postgres@127.0.0.1:5432/latchkey_bench);
#                  the direct seeder then uses it too
#   BENCH_PUBLIC_PORT, BENCH_ADMIN_PORT  ports (default 44330, 44340)
#   BENCH_PASSWORD_LIMIT  password attempt limits of the server, both faces
#                  (the first tier of ratelimit.attempts.identity,
#                  ratelimit.attempts.ip.limit and
#                  hanko.rate_limiter.password_limits.tokens; default
#                  1000000000): the limiters stay on, so their counters are
#                  written on every password attempt as in production, but
#                  the scenarios' thousands of logins of a few identities
#                  from one address per minute are not refused
#   BENCH_OIDC_PORT  loopback port of the OpenID Connect provider oidc-login
#                  runs in the bench process (default 44350); the server is
#                  started with TOTP and that provider enabled, so totp-aal2
#                  and oidc-login run too
set -euo pipefail

bench_kind=bench
# shellcheck source=bench/serve.sh
. "$(dirname "$0")/serve.sh"
dsn=${BENCH_DSN:-sqlite://$work/latchkey.db}
oidc=127.0.0.1:${BENCH_OIDC_PORT:-44350}
export LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true LATCHKEY_SELFSERVICE_METHODS_OIDC_ENABLED=true
# The provider's configuration, as `latchkey bench --help` prints it.
export LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS='[{"client_id":"latchkey-bench","client_secret":"latchkey-bench-not-a-secret","id":"bench","issuer_url":"http://'$oidc'/oidc","label":"Bench","provider":"generic","scope":["openid","email","profile"]}]'
start_server "$dsn"
sleep 1
idle_rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")

echo "## Run of $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(go version 2>/dev/null | cut -d' ' -f3-), $(uname -sr)"
echo "- commit: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "- server: \`latchkey serve --dev --dsn ${dsn%%\?*}\` (pid $pid), password attempt limits (both faces) raised to $limit per window (limiters on), TOTP and the bench's OIDC provider ($oidc) enabled"
echo "- cold start to ready (exec to first 200 from /health/ready, migrations included): ${ready_ms} ms"
echo "- idle RSS 1 s after ready: $(awk -v k="$idle_rss_kb" 'BEGIN {printf "%.1f", k/1024}') MB"
echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
seed=()
if [[ -z ${BENCH_NO_DIRECT_SEED:-} ]]; then
	seed=(--seed-dsn "$dsn")
fi
"$client" bench --public "$public" --admin "$admin" --server-pid "$pid" --dev --oidc-provider "$oidc" "${seed[@]}" --markdown --scenario all "$@"
echo
echo "- load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
