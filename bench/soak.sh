#!/usr/bin/env bash
# bench/soak.sh — the mixed soak of issue 16: is the server's RSS bounded
# and flat under a long mixed load?
#
# Starts `latchkey serve --dev` on a fresh temporary directory (SQLite) with
# the password attempt limits raised as bench/run.sh raises them, then runs
# rounds of `latchkey bench --scenario <mix> --duration 5s --warmup 1s -n 16
# --distinct-tokens 500 --server-pid <pid>` until SOAK_MINUTES have passed,
# and prints one line per round: elapsed seconds, VmRSS, RssAnon, RssFile
# and VmHWM of the server after the round (MB), the round's own peak RSS
# as the bench sampled it, and the round's failed requests (all scenarios). A last line gives the first and last rounds'
# RSS and the highest. Each round's full output goes to $work/round-N.txt
# (kept when SOAK_KEEP is set).
#
# Environment:
#   LATCHKEY_BIN   use this binary instead of building one
#   SOAK_MINUTES   length of the soak (default 10)
#   SOAK_SCENARIOS the mix (default: whoami,validate,me,kratos-login,
#                  kratos-register,hanko-login,admin-create,
#                  hanko-admin-create,ui-login-page)
#   BENCH_PUBLIC_PORT, BENCH_ADMIN_PORT  ports (default 44330, 44340)
#   BENCH_PASSWORD_LIMIT  password attempt limits (default 1000000000, see
#                  bench/run.sh)
#   SOAK_KEEP      keep the temporary directory (database, logs, rounds)
set -euo pipefail

bench_kind=soak
keep=${SOAK_KEEP:-}
# shellcheck source=bench/serve.sh
. "$(dirname "$0")/serve.sh"
minutes=${SOAK_MINUTES:-10}
mix=${SOAK_SCENARIOS:-whoami,validate,me,kratos-login,kratos-register,hanko-login,admin-create,hanko-admin-create,ui-login-page}
start_server "sqlite://$work/latchkey.db"

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
field() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$pid/status"; }

echo "# soak of $(date -u +%Y-%m-%dT%H:%M:%SZ): $bin serve --dev (SQLite, pid $pid), ${minutes} min of: $mix"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# round  elapsed_s  VmRSS  RssAnon  RssFile  VmHWM  round_peak (MB)  errors"
start=$(date +%s)
first="" last="" high=0 round=0
while (($(date +%s) - start < minutes * 60)); do
	round=$((round + 1))
	"$client" bench --public "$public" --admin "$admin" --scenario "$mix" --duration 5s --warmup 1s -n 16 \
		--distinct-tokens 500 --server-pid "$pid" --dev >"$work/round-$round.txt" 2>&1 ||
		{ echo "round $round failed:" >&2; tail -5 "$work/round-$round.txt" >&2; exit 1; }
	rss=$(field VmRSS)
	peak=$(grep -o 'peak RSS [0-9.]* MB' "$work/round-$round.txt" | awk '{print $3}' | sort -n | tail -1)
	errs=$(grep -o 'errors [0-9]*' "$work/round-$round.txt" | awk '{n += $2} END {print n + 0}')
	printf '%6d  %9d  %5s  %7s  %7s  %5s  %10s  %6s\n' "$round" $(($(date +%s) - start)) "$(mb "$rss")" \
		"$(mb "$(field RssAnon)")" "$(mb "$(field RssFile)")" "$(mb "$(field VmHWM)")" "${peak:--}" "$errs"
	first=${first:-$rss}
	last=$rss
	((rss > high)) && high=$rss
done
echo "# $round rounds: VmRSS after the first $(mb "$first") MB, after the last $(mb "$last") MB, highest after a round $(mb "$high") MB, VmHWM $(mb "$(field VmHWM)") MB"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
