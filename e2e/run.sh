#!/usr/bin/env bash
# e2e/run.sh: run the real client libraries against `latchkey serve --dev`.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: e2e/run.sh [options]

Builds latchkey into a temporary directory, starts `latchkey serve --dev` on
free loopback ports with a fresh SQLite database, installs the suites' npm
dependencies (npm ci) and runs:

  kratos-sdk      Ory's @ory/client (FrontendApi, IdentityApi) in Node
  hanko-elements  Hanko's <hanko-auth> in headless Chromium (playwright-core)

then stops the server. Exits non-zero when a suite fails or cannot run.

Options:
  --suite NAME       run only this suite (kratos-sdk or hanko-elements);
                     may be given twice
  --install-browser  apt-get install chromium when it is missing (needs root
                     and Debian's package index; CI uses this)
  --artifacts DIR    where screenshots and the server log are kept
                     (default: e2e/artifacts, emptied of the last run's)
  --keep             keep the temporary directory (binary, database)
  -h, --help         show this help

Needs Go, Node.js 20+ with npm, and Chromium at /usr/bin/chromium (or
$E2E_CHROMIUM) for hanko-elements.
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
suites=()
install_browser=0
keep=0
artifacts="$here/artifacts"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --suite)
      [[ $# -ge 2 ]] || { echo "run.sh: --suite needs a name" >&2; exit 2; }
      case "$2" in
        kratos-sdk | hanko-elements) suites+=("$2") ;;
        *) echo "run.sh: unknown suite $2 (kratos-sdk, hanko-elements)" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --install-browser) install_browser=1; shift ;;
    --artifacts)
      [[ $# -ge 2 ]] || { echo "run.sh: --artifacts needs a directory" >&2; exit 2; }
      artifacts="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#suites[@]} -gt 0 ]] || suites=(kratos-sdk hanko-elements)

log() { printf 'e2e: %s\n' "$*"; }
started=$SECONDS

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

chromium="${E2E_CHROMIUM:-/usr/bin/chromium}"
if [[ " ${suites[*]} " == *" hanko-elements "* && ! -x "$chromium" ]]; then
  if [[ $install_browser -eq 1 ]]; then
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "run.sh: no Chromium at $chromium: apt-get install chromium, or pass --install-browser" >&2
    exit 1
  fi
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-e2e.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $keep -eq 1 ]]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

log "building latchkey"
(cd "$repo" && go build -o "$tmp/latchkey" ./cmd/latchkey)

log "npm ci"
for s in "${suites[@]}"; do
  (cd "$here/$s" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done

# Three free loopback ports: public and admin listeners, and the test page.
read -r public_port admin_port page_port < <(node -e '
  const net = require("node:net")
  const free = () => new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)) }) })
  Promise.all([free(), free(), free()]).then((p) => console.log(p.join(" ")))')

# The default folder holds the last run only.
if [[ "$artifacts" == "$here/artifacts" ]]; then
  rm -f "$artifacts"/*.png
fi
mkdir -p "$artifacts" "$tmp/data"
server_log="$artifacts/latchkey.log"
: >"$server_log"
log "starting latchkey serve --dev (public :$public_port, admin :$admin_port, page :$page_port)"
(
  cd "$tmp/data"
  # The page (http://localhost:$page_port) and the API (http://localhost:
  # $public_port) are same-site, so hanko-elements works with Hanko's default
  # cookie (HttpOnly, SameSite=Strict; --dev turns Secure off). The dev
  # courier logs every message with its code as JSON; the suites read it.
  exec env \
    LATCHKEY_SERVE_PUBLIC_PORT="$public_port" \
    LATCHKEY_SERVE_ADMIN_PORT="$admin_port" \
    LATCHKEY_HANKO_CORS_ALLOW_ORIGINS="http://localhost:$page_port" \
    LATCHKEY_LOG_FORMAT=json \
    "$tmp/latchkey" serve --dev
) >>"$server_log" 2>&1 &
server_pid=$!

public_url="http://127.0.0.1:$public_port"
admin_url="http://127.0.0.1:$admin_port"
if ! node -e '
  const url = process.argv[1]
  const deadline = Date.now() + 30000
  const poll = () => fetch(url).then((r) => { if (!r.ok) throw new Error(String(r.status)) })
    .catch((err) => { if (Date.now() > deadline) { console.error(String(err)); process.exit(1) } return new Promise((ok) => setTimeout(ok, 100)).then(poll) })
  poll()' "$public_url/health/ready"; then
  echo "run.sh: latchkey did not become ready; its log:" >&2
  cat "$server_log" >&2
  exit 1
fi
log "latchkey ready after $((SECONDS - started)) s"

export LATCHKEY_PUBLIC_URL="$public_url" LATCHKEY_ADMIN_URL="$admin_url" LATCHKEY_LOG_FILE="$server_log"
export E2E_PAGE_PORT="$page_port" E2E_ARTIFACTS="$artifacts" E2E_CHROMIUM="$chromium"

passed=()
failed=()
for s in "${suites[@]}"; do
  log "running $s"
  t0=$SECONDS
  if (cd "$here/$s" && npm test --silent); then
    passed+=("$s ($((SECONDS - t0)) s)")
  else
    failed+=("$s")
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: latchkey exited during $s; its log is $server_log" >&2
    failed+=("server")
    break
  fi
done

log "done in $((SECONDS - started)) s; screenshots and server log in $artifacts"
for s in "${passed[@]}"; do log "PASS $s"; done
for s in "${failed[@]}"; do log "FAIL $s"; done
[[ ${#failed[@]} -eq 0 ]]
