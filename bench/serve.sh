# bench/serve.sh — sourced by bench/run.sh and bench/soak.sh (not run by
# itself): the binary, ports and password attempt limits of the server
# they measure, and its start.
#
# Sets root, work (a fresh temporary directory, removed at exit unless
# keep is set), bin (LATCHKEY_BIN, or a binary built into $work), client
# (a copy of bin the bench client runs, see below), pport,
# aport, public and admin (BENCH_PUBLIC_PORT / BENCH_ADMIN_PORT, default
# 44330 / 44340) and limit (BENCH_PASSWORD_LIMIT, default 1000000000), and
# exports the server's settings for them. start_server DSN then starts
# `latchkey serve --dev --dsn DSN --no-courier` in $work and waits until
# /health/ready answers 200; it sets pid and ready_ms (exec to that 200).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "/tmp/latchkey-${bench_kind:-bench}.XXXXXX")
bin=${LATCHKEY_BIN:-}
if [[ -z $bin ]]; then
	bin=$work/latchkey
	(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/latchkey)
fi
# The bench client runs from its own copy of the executable. Run from the
# same file, the pages of it only the client runs stay in the page cache,
# and the kernel maps cached neighbours of every page the server faults in
# (fault-around, up to 64 KiB): the server's RSS then counted about 6 MB of
# the client's code (22.4 against 28.5 MB of RssFile after a soak round).
client=$work/latchkey-client
cp "$bin" "$client"
pport=${BENCH_PUBLIC_PORT:-44330}
aport=${BENCH_ADMIN_PORT:-44340}
public=http://localhost:$pport
admin=http://127.0.0.1:$aport

export LATCHKEY_SERVE_PUBLIC_PORT=$pport LATCHKEY_SERVE_ADMIN_PORT=$aport LATCHKEY_LOG_LEVEL=warn
# The limiters stay on, so their counters are written on every password
# attempt as in production, but the scenarios' thousands of logins of a
# few identities from one address per minute are not refused. These are
# the limits the deprecated ratelimit.password.identifier.limit and
# ratelimit.password.ip.limit set before (a first identity tier of limit
# per 5m beside the default second one, limit per client IP per 1m), in
# the current keys (config/REFERENCE.md), so the server prints no warning.
limit=${BENCH_PASSWORD_LIMIT:-1000000000}
export LATCHKEY_RATELIMIT_ATTEMPTS_IDENTITY="[{\"limit\":$limit,\"window\":\"5m\"},{\"limit\":100,\"window\":\"24h\"}]" \
	LATCHKEY_RATELIMIT_ATTEMPTS_IP_LIMIT=$limit LATCHKEY_RATELIMIT_ATTEMPTS_IP_WINDOW=1m \
	LATCHKEY_HANKO_RATE_LIMITER_PASSWORD_LIMITS_TOKENS=$limit

pid=""
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -z ${keep:-} ]]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

start_server() {
	cd "$work"
	local start
	start=$(date +%s%N)
	"$bin" serve --dev --dsn "$1" --no-courier >"$work/serve.log" 2>&1 &
	pid=$!
	until curl -fsS -o /dev/null "$public/health/ready" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "latchkey serve exited:" >&2
			cat "$work/serve.log" >&2
			exit 1
		fi
		sleep 0.01
	done
	ready_ms=$((($(date +%s%N) - start) / 1000000))
}
