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
  ory-elements    Ory's @ory/elements-react (<Login>, <Registration>,
                  <Settings>) in a Vite-built page, in headless Chromium,
                  against a second server whose flows' ui_urls point at it
  kratos-ui       Latchkey's hosted pages (/ui) in headless Chromium with a
                  virtual authenticator: sign up and sign in with a passkey
                  (button and autofill), add and remove passkeys; a security
                  key as second factor; axe-core on every page in light and
                  dark (0 serious/critical), keyboard-only sign-in, the
                  language switcher, screenshots of every page

then stops the server. Exits non-zero when a suite fails or cannot run.

Options:
  --suite NAME       run only this suite (kratos-sdk, hanko-elements,
                     ory-elements or kratos-ui); may be given more than once
  --install-browser  apt-get install chromium when it is missing (needs root
                     and Debian's package index; CI uses this)
  --artifacts DIR    where screenshots and the server log are kept
                     (default: e2e/artifacts, emptied of the last run's)
  --keep             keep the temporary directory (binary, database)
  -h, --help         show this help

Needs Go, Node.js 20+ with npm, and Chromium at /usr/bin/chromium (or
$E2E_CHROMIUM) for hanko-elements, ory-elements and kratos-ui.
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
        kratos-sdk | hanko-elements | ory-elements | kratos-ui) suites+=("$2") ;;
        *) echo "run.sh: unknown suite $2 (kratos-sdk, hanko-elements, ory-elements, kratos-ui)" >&2; exit 2 ;;
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
[[ ${#suites[@]} -gt 0 ]] || suites=(kratos-sdk hanko-elements ory-elements kratos-ui)

log() { printf 'e2e: %s\n' "$*"; }
started=$SECONDS

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

chromium="${E2E_CHROMIUM:-/usr/bin/chromium}"
if [[ " ${suites[*]} " == *"-elements "* || " ${suites[*]} " == *" kratos-ui "* ]] && [[ ! -x "$chromium" ]]; then
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
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ $keep -eq 1 ]]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

log "building latchkey"
(cd "$repo" && go build -o "$tmp/latchkey" ./cmd/latchkey)

# The local OpenID Connect provider (e2e/oidcprovider: mockoidc behind a
# sign-in page; PKCE, nonce and registered redirect URIs enforced).
(cd "$repo" && go build -o "$tmp/oidcprovider" ./e2e/oidcprovider)

log "npm ci"
for s in "${suites[@]}"; do
  (cd "$here/$s" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done

# Free loopback ports: the shared server's public and admin listeners and
# test page, the same three for ory-elements' own server, kratos-ui's
# server's two listeners, the OIDC provider, and kratos-ui's code-login
# server's two listeners.
read -r public_port admin_port page_port el_public_port el_admin_port el_page_port ui_public_port ui_admin_port op_port code_public_port code_admin_port < <(node -e '
  const net = require("node:net")
  const free = () => new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)) }) })
  const ports = new Set()
  const more = () => ports.size === 11 ? console.log([...ports].join(" ")) : free().then((p) => { ports.add(p); more() })
  more()')

# The default folder holds the last run only.
if [[ "$artifacts" == "$here/artifacts" ]]; then
  rm -f "$artifacts"/*.png "$artifacts"/*.log
fi
mkdir -p "$artifacts"

# start_server NAME LOG PUBLIC_URL [VAR=value ...] starts `latchkey serve
# --dev` with a fresh SQLite database in $tmp/NAME, the variables in its
# environment, logging JSON to LOG, and waits until PUBLIC_URL answers
# /health/ready. The dev courier logs every message with its code as JSON;
# the suites read it from LOG.
start_server() {
  local name="$1" server_log="$2" url="$3"
  shift 3
  mkdir -p "$tmp/$name"
  : >"$server_log"
  (
    cd "$tmp/$name"
    exec env LATCHKEY_LOG_FORMAT=json "$@" "$tmp/latchkey" serve --dev
  ) >>"$server_log" 2>&1 &
  server_pids+=($!)
  if ! node -e '
    const url = process.argv[1]
    const deadline = Date.now() + 30000
    const poll = () => fetch(url).then((r) => { if (!r.ok) throw new Error(String(r.status)) })
      .catch((err) => { if (Date.now() > deadline) { console.error(String(err)); process.exit(1) } return new Promise((ok) => setTimeout(ok, 100)).then(poll) })
    poll()' "$url/health/ready"; then
    echo "run.sh: latchkey ($name) did not become ready; its log:" >&2
    cat "$server_log" >&2
    exit 1
  fi
}

# The OIDC provider, offered by the shared and kratos-ui servers as the
# generic provider "e2e" (Hanko: custom_e2e). Its registered redirect URIs
# are those servers' Kratos and Hanko callbacks.
op_issuer="http://127.0.0.1:$op_port/oidc"
"$tmp/oidcprovider" -addr "127.0.0.1:$op_port" -client-id latchkey-e2e -client-secret latchkey-e2e-secret \
  -redirect-uris "http://localhost:$public_port/self-service/methods/oidc/callback/e2e,http://localhost:$public_port/thirdparty/callback,http://localhost:$ui_public_port/self-service/methods/oidc/callback/e2e" \
  >>"$artifacts/oidcprovider.log" 2>&1 &
server_pids+=($!)
node -e '
  const url = process.argv[1], deadline = Date.now() + 30000
  const poll = () => fetch(url).then((r) => { if (!r.ok) throw new Error(String(r.status)) })
    .catch((err) => { if (Date.now() > deadline) { console.error("oidcprovider: " + err); process.exit(1) } return new Promise((ok) => setTimeout(ok, 100)).then(poll) })
  poll()' "$op_issuer/.well-known/openid-configuration"
oidc_env=(LATCHKEY_SELFSERVICE_METHODS_OIDC_ENABLED=true
  "LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{\"id\":\"e2e\",\"provider\":\"generic\",\"label\":\"E2E provider\",\"client_id\":\"latchkey-e2e\",\"client_secret\":\"latchkey-e2e-secret\",\"issuer_url\":\"$op_issuer\",\"scope\":[\"openid\",\"email\",\"profile\"]}]")

public_url="http://127.0.0.1:$public_port"
admin_url="http://127.0.0.1:$admin_port"
server_log="$artifacts/latchkey.log"
if [[ " ${suites[*]} " == *" kratos-sdk "* || " ${suites[*]} " == *" hanko-elements "* ]]; then
  log "starting latchkey serve --dev (public :$public_port, admin :$admin_port, page :$page_port)"
  # The page (http://localhost:$page_port) and the API (http://localhost:
  # $public_port) are same-site, so hanko-elements works with Hanko's
  # default cookie (HttpOnly, SameSite=Strict; --dev turns Secure off).
  # Passkeys: the relying party is localhost (browsers refuse an IP), and
  # the ceremonies run in the page, so its origin is the one allowed.
  # hanko-elements signs one user in with a password more than five times
  # within a minute (wrong password, right one, after recovery, after a
  # password change, with TOTP, on a trusted browser), which Hanko's own
  # per-(user, address) password limit (5 a minute, right or wrong) refuses
  # with 429 on a fast machine; that limit is tested in api/hanko, so the
  # suite's server allows 30.
  # Third-party sign-in: redirect_to may name the page.
  start_server shared "$server_log" "$public_url" "${oidc_env[@]}" \
    LATCHKEY_HANKO_THIRD_PARTY_ALLOWED_REDIRECT_URLS="http://localhost:$page_port/**" \
    LATCHKEY_HANKO_THIRD_PARTY_ERROR_REDIRECT_URL="http://localhost:$page_port/error" \
    LATCHKEY_HANKO_RATE_LIMITER_PASSWORD_LIMITS_TOKENS=30 \
    LATCHKEY_SERVE_PUBLIC_PORT="$public_port" \
    LATCHKEY_SERVE_ADMIN_PORT="$admin_port" \
    LATCHKEY_HANKO_CORS_ALLOW_ORIGINS="http://localhost:$page_port" \
    LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID=localhost \
    LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS="http://localhost:$page_port,http://localhost:$public_port"
fi

# ory-elements gets a server of its own: its flows' ui_urls, return URLs
# and CORS point at the suite's page (http://localhost:$el_page_port), and
# the page calls the API on http://localhost:$el_public_port (same site, so
# the Lax anti-CSRF and session cookies travel with its fetches). Code
# login and sign-up are on, so that the credentials screen offers two
# methods and Ory Elements shows its method picker. Passkeys are on: the
# page (another port of localhost) is a relying party origin, since the
# ceremonies run in it. TOTP is on for the AAL2 steps; settings need only
# aal1, so that the journey's logout (through the settings page's user
# menu) works from a password-only session of an identity with TOTP, while
# whoami keeps Kratos' default (highest_available).
el_page="http://localhost:$el_page_port"
el_public_url="http://localhost:$el_public_port"
el_admin_url="http://127.0.0.1:$el_admin_port"
el_log="$artifacts/latchkey-ory-elements.log"
if [[ " ${suites[*]} " == *" ory-elements "* ]]; then
  log "starting latchkey serve --dev for ory-elements (public :$el_public_port, admin :$el_admin_port, page :$el_page_port)"
  start_server ory-elements "$el_log" "$el_public_url" \
    LATCHKEY_SERVE_PUBLIC_PORT="$el_public_port" \
    LATCHKEY_SERVE_ADMIN_PORT="$el_admin_port" \
    LATCHKEY_SERVE_PUBLIC_BASE_URL="$el_public_url/" \
    LATCHKEY_SERVE_PUBLIC_CORS_ENABLED=true \
    LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_ORIGINS="$el_page" \
    LATCHKEY_SERVE_PUBLIC_CORS_ALLOW_CREDENTIALS=true \
    LATCHKEY_SELFSERVICE_DEFAULT_BROWSER_RETURN_URL="$el_page/" \
    LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS="$el_page/" \
    LATCHKEY_SELFSERVICE_FLOWS_LOGIN_UI_URL="$el_page/login" \
    LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_UI_URL="$el_page/registration" \
    LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_UI_URL="$el_page/settings" \
    LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_UI_URL="$el_page/recovery" \
    LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_UI_URL="$el_page/verification" \
    LATCHKEY_SELFSERVICE_FLOWS_ERROR_UI_URL="$el_page/error" \
    LATCHKEY_SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED=true \
    LATCHKEY_SELFSERVICE_METHODS_PASSKEY_ENABLED=true \
    LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS="$el_page,$el_public_url" \
    LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true \
    LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_REQUIRED_AAL=aal1
fi
# kratos-ui gets a server of its own with passkeys, security keys, TOTP and
# backup codes on (settings and whoami keep Kratos' highest_available, so
# the second factor is asked for). Its public base URL is serve --dev's
# own default, http://localhost:<port>/ (browsers refuse an IP address as
# the WebAuthn relying party; the relying party id and origin follow from
# the base URL), so the suite proves the pages work with nothing set but
# the methods.
ui_public_url="http://localhost:$ui_public_port"
ui_admin_url="http://127.0.0.1:$ui_admin_port"
ui_log="$artifacts/latchkey-kratos-ui.log"
if [[ " ${suites[*]} " == *" kratos-ui "* ]]; then
  log "starting latchkey serve --dev for kratos-ui (public :$ui_public_port, admin :$ui_admin_port)"
  start_server kratos-ui "$ui_log" "$ui_public_url" "${oidc_env[@]}" \
    LATCHKEY_SERVE_PUBLIC_PORT="$ui_public_port" \
    LATCHKEY_SERVE_ADMIN_PORT="$ui_admin_port" \
    LATCHKEY_SELFSERVICE_METHODS_PASSKEY_ENABLED=true \
    LATCHKEY_SELFSERVICE_METHODS_WEBAUTHN_ENABLED=true \
    LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true \
    LATCHKEY_SELFSERVICE_METHODS_LOOKUP_SECRET_ENABLED=true
  # Sign-in with an e-mail code on /ui gets a server of its own: with
  # code.passwordless_enabled the e-mail code is one more way to sign in,
  # so the other kratos-ui tests' "last way to sign in" would not hold.
  code_public_url="http://localhost:$code_public_port"
  code_log="$artifacts/latchkey-kratos-ui-code.log"
  log "starting latchkey serve --dev for kratos-ui's code login (public :$code_public_port, admin :$code_admin_port)"
  start_server kratos-ui-code "$code_log" "$code_public_url" \
    LATCHKEY_SERVE_PUBLIC_PORT="$code_public_port" \
    LATCHKEY_SERVE_ADMIN_PORT="$code_admin_port" \
    LATCHKEY_SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED=true
fi
log "latchkey ready after $((SECONDS - started)) s"

export E2E_ARTIFACTS="$artifacts" E2E_CHROMIUM="$chromium"

# suite_env NAME prints the environment of a suite: where its server is.
suite_env() {
  if [[ "$1" == ory-elements ]]; then
    echo LATCHKEY_PUBLIC_URL="$el_public_url" LATCHKEY_ADMIN_URL="$el_admin_url" LATCHKEY_LOG_FILE="$el_log" E2E_PAGE_PORT="$el_page_port"
  elif [[ "$1" == kratos-ui ]]; then
    echo LATCHKEY_PUBLIC_URL="$ui_public_url" LATCHKEY_ADMIN_URL="$ui_admin_url" LATCHKEY_LOG_FILE="$ui_log"
  else
    echo LATCHKEY_PUBLIC_URL="$public_url" LATCHKEY_ADMIN_URL="$admin_url" LATCHKEY_LOG_FILE="$server_log" E2E_PAGE_PORT="$page_port"
  fi
}

passed=()
failed=()
for s in "${suites[@]}"; do
  log "running $s"
  t0=$SECONDS
  # shellcheck disable=SC2046 # suite_env prints VAR=value words
  if (cd "$here/$s" && env $(suite_env "$s") npm test --silent) &&
    { [[ "$s" != kratos-ui ]] || (cd "$here/$s" && env LATCHKEY_PUBLIC_URL="$code_public_url" \
      LATCHKEY_ADMIN_URL="http://127.0.0.1:$code_admin_port" LATCHKEY_LOG_FILE="$code_log" npm run --silent test-code); }; then
    passed+=("$s ($((SECONDS - t0)) s)")
  else
    failed+=("$s")
  fi
  dead=0
  for pid in "${server_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || dead=1
  done
  if [[ $dead -eq 1 ]]; then
    echo "run.sh: a latchkey server exited during $s; see the logs in $artifacts" >&2
    failed+=("server")
    break
  fi
done

log "done in $((SECONDS - started)) s; screenshots and server log in $artifacts"
for s in "${passed[@]}"; do log "PASS $s"; done
for s in "${failed[@]}"; do log "FAIL $s"; done
[[ ${#failed[@]} -eq 0 ]]
