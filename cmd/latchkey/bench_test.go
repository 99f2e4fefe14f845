package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bench"
)

// benchServeDev starts `latchkey serve --dev` on a fresh SQLite file with
// the password attempt limits raised as bench/run.sh does, on a fixed
// public port (the --dev relying party's origin names it), plus the extra
// environment.
func benchServeDev(t *testing.T, env ...string) (public, admin string) {
	t.Helper()
	devEnv(t)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_PORT", freePort(t))
	for _, k := range []string{"LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT", "LATCHKEY_RATELIMIT_PASSWORD_IP_LIMIT",
		"LATCHKEY_HANKO_RATE_LIMITER_PASSWORD_LIMITS_TOKENS"} {
		t.Setenv(k, "1000000000")
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	public, admin, _ = startServe(t, serveOptions{dev: true, migrate: true})
	return public, admin
}

// runBenchScenarios runs names against the target with a request cap (no
// timing: every scenario makes exactly 12 measured requests) and returns
// the results by name.
func runBenchScenarios(t *testing.T, o bench.Options, names ...string) map[string]bench.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.Load = bench.Load{Concurrency: 2, Requests: 12}
	o.Sessions, o.DistinctTokens = 4, 12
	r, err := bench.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	results, err := r.Run(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bench.Result{}
	for _, res := range results {
		got[res.Scenario] = res
	}
	return got
}

func wantMeasured(t *testing.T, got map[string]bench.Result, names ...string) {
	t.Helper()
	for _, name := range names {
		res, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: no result (have %v)", name, got)
		case res.Skipped != "":
			t.Errorf("%s: skipped: %s", name, res.Skipped)
		case res.Ops != 12 || res.Errors != 0:
			t.Errorf("%s: %d ops, %d errors %v, want 12 and 0", name, res.Ops, res.Errors, res.ErrorKinds)
		}
	}
}

// TestBenchAgainstServeDev runs the scenarios that need the Hanko face, the
// hosted pages or passkeys against a real `latchkey serve --dev`.
func TestBenchAgainstServeDev(t *testing.T) {
	public, admin := benchServeDev(t)
	got := runBenchScenarios(t, bench.Options{Public: public, Admin: admin, ServerPID: os.Getpid()},
		"baseline", "validate", "me", "hanko-login", "passkey-login", "hanko-admin-create", "ui-login-page", "totp-aal2", "oidc-login")
	wantMeasured(t, got, "validate/cache-hit", "validate/cache-miss", "me/cache-hit", "me/cache-miss", "baseline@validate",
		"baseline@me", "hanko-login", "passkey-login", "hanko-admin-create", "ui-login-page")
	if pk := got["passkey-login"]; !strings.Contains(pk.Note, "webauthn_verify_assertion_response") || pk.CPUMsPerOp == nil {
		t.Errorf("passkey-login: note %q, CPU %v", pk.Note, pk.CPUMsPerOp)
	}
	if hl := got["hanko-login"]; !strings.Contains(hl.Note, "password_login") {
		t.Errorf("hanko-login note %q does not list the actions posted", hl.Note)
	}
	// --dev has no TOTP: skipped with the key to set.
	if s := got["totp-aal2"].Skipped; !strings.Contains(s, "LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true") {
		t.Errorf("totp-aal2 on --dev: skipped %q, want the config to set", s)
	}
	if s := got["oidc-login"].Skipped; !strings.Contains(s, "LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS='[{") {
		t.Errorf("oidc-login on --dev: skipped %q, want the config to set", s)
	}
}

// TestBenchOIDCAgainstServeDev runs oidc-login against serve --dev
// configured, as the skip message says, with the provider the bench runs.
func TestBenchOIDCAgainstServeDev(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	var env []string
	for _, kv := range strings.Fields(bench.OIDCServerConfig(addr, "bench")) {
		env = append(env, strings.ReplaceAll(kv, "'", ""))
	}
	public, admin := benchServeDev(t, env...)
	// The provider sends the browser back to the public base URL, which
	// --dev names localhost: the sign-in starts there, where its cookies
	// are.
	public = strings.Replace(public, "127.0.0.1", "localhost", 1)
	got := runBenchScenarios(t, bench.Options{Public: public, Admin: admin, OIDCProviderAddr: addr}, "oidc-login")
	wantMeasured(t, got, "oidc-login")
}

// TestBenchTOTPAgainstServeDev runs totp-aal2 against serve --dev with TOTP
// enabled: every measured op ends in an aal2 session.
func TestBenchTOTPAgainstServeDev(t *testing.T) {
	public, admin := benchServeDev(t, "LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true")
	// Each identity has a code left for at least the rest of the step it
	// was enrolled in and the next one: 12 ops need 12 identities.
	got := runBenchScenarios(t, bench.Options{Public: public, Admin: admin, TOTPIdentities: 12}, "totp-aal2")
	wantMeasured(t, got, "totp-aal2")
}
