package bench_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/bench"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store/storetest"
)

var cheapHash = password.Params{Algorithm: password.AlgorithmArgon2,
	Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

// newTarget serves Latchkey's real Kratos handlers (admin API and native
// self-service) over a SQLite store on two loopback test servers.
func newTarget(t *testing.T) (public, admin string) {
	t.Helper()
	st := storetest.SQLite(t)
	var pub http.Handler
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pub.ServeHTTP(w, r) }))
	t.Cleanup(ps.Close)
	cfg, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=" + ps.URL + "/"}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(cheapHash, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: hasher})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cipher.NewSigner("a-test-secret-of-32-characters!!")
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.NewManager(st, signer, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ciph, err := cipher.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ss, err := kratos.NewSelfService(kratos.SelfServiceOptions{Store: st, Identities: ids, Sessions: sessions, Hasher: hasher,
		Cookies: ciph, PublicBaseURL: ps.URL + "/", SelfService: cfg.SelfService, Session: cfg.Session, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	kh, err := kratos.New(kratos.Options{Identities: ids, Sessions: st, PublicBaseURL: ps.URL + "/", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pm := http.NewServeMux()
	ss.MountPublic(pm)
	pub = api.Chain(pm, api.WithRequestID(), api.NoCache())
	am := http.NewServeMux()
	kh.MountAdmin(am)
	as := httptest.NewServer(api.Chain(am, api.WithRequestID(), api.NoCache()))
	t.Cleanup(as.Close)
	return ps.URL, as.URL
}

func TestRunAgainstRealHandlers(t *testing.T) {
	t.Parallel()
	public, admin := newTarget(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log strings.Builder
	r, err := bench.New(ctx, bench.Options{
		Public: public, Admin: admin,
		Load:      bench.Load{Concurrency: 2, Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond},
		Sessions:  4,
		BatchSize: 50,
		Scales:    []int{100, 200},
		Hash:      cheapHash,
		Log:       &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	results, err := r.Run(ctx, []string{"baseline", "whoami", "validate", "me", "kratos-login", "admin-create", "hanko-admin-create",
		"ui-login-page", "batch-import", "lookup-at-scale", "hash"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bench.Result{}
	for _, res := range results {
		got[res.Scenario] = res
	}
	if results[0].Scenario != "whoami" {
		t.Errorf("first result %q, want whoami (baseline runs after the session checks)", results[0].Scenario)
	}
	for _, name := range []string{"whoami", "baseline@whoami", "kratos-login", "admin-create", "batch-import",
		"lookup-at-scale/lookup@100", "lookup-at-scale/login@100", "lookup-at-scale/lookup@200", "lookup-at-scale/login@200", "hash"} {
		res, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: no result (have %v)", name, results)
		case res.Skipped != "":
			t.Errorf("%s: skipped: %s", name, res.Skipped)
		case res.Ops == 0 || res.Errors != 0:
			t.Errorf("%s: %d ops, %d errors (first: %s)", name, res.Ops, res.Errors, res.FirstError)
		case res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99:
			t.Errorf("%s: percentiles p50 %v p99 %v max %v", name, res.P50, res.P99, res.Max)
		}
	}
	// The Hanko face and the hosted pages are not mounted: their scenarios
	// must be reported as skipped with what was missing, not as a number
	// nor as a setup failure.
	for name, want := range map[string]string{
		"validate":           "the target has no Hanko Flow API: POST " + public + "/login answered 404",
		"me":                 "the target has no Hanko Flow API: POST " + public + "/login answered 404",
		"hanko-admin-create": "Hanko admin create user: POST " + admin + "/users answered 404",
		"ui-login-page":      "hosted login page: GET " + public + "/ui/login answered 404",
	} {
		if v := got[name]; !strings.HasPrefix(v.Skipped, want) {
			t.Errorf("%s: skipped %q, want it to start with %q", name, v.Skipped, want)
		}
	}
	if _, ok := got["baseline"]; ok {
		t.Error("baseline ran with the configured body size although whoami ran")
	}
	if b := got["baseline@whoami"]; b.CPUMsPerOp == nil || b.CPUOf != "bench (client and server)" || !strings.Contains(b.Note, fmt.Sprintf("%d B body (whoami's size)", bodyOf(got["whoami"]))) {
		t.Errorf("baseline in process: CPU %v of %q, note %q", b.CPUMsPerOp, b.CPUOf, b.Note)
	}
	if h := got["hash"]; h.CPUMsPerOp == nil || *h.CPUMsPerOp <= 0 {
		t.Errorf("hash: CPU %v", h.CPUMsPerOp)
	}
	if w := got["whoami"]; w.CPUMsPerOp != nil {
		t.Errorf("whoami without a server PID reports CPU %v", *w.CPUMsPerOp)
	}
	var out strings.Builder
	if err := bench.WriteText(&out, results); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "whoami") || !strings.Contains(out.String(), "ops/s") {
		t.Errorf("text output:\n%s", out.String())
	}
}

func TestRunWithServerPID(t *testing.T) {
	t.Parallel()
	// The test process serves the handlers, so its own PID is the server's.
	public, admin := newTarget(t)
	ctx := context.Background()
	r, err := bench.New(ctx, bench.Options{Public: public, Admin: admin, ServerPID: osPID(),
		Load: bench.Load{Concurrency: 2, Requests: 200}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	results, err := r.Run(ctx, []string{"admin-create"})
	if err != nil {
		t.Fatal(err)
	}
	res := results[0]
	if res.Ops+res.Errors != 200 {
		t.Errorf("%d ops and %d errors, want 200 requests", res.Ops, res.Errors)
	}
	if res.CPUMsPerOp == nil || *res.CPUMsPerOp <= 0 || res.PeakRSSMB == nil || *res.PeakRSSMB <= 0 ||
		res.CPUMsPerAttempt == nil || *res.CPUMsPerAttempt > *res.CPUMsPerOp {
		t.Errorf("CPU %v (per attempt %v), peak RSS %v", res.CPUMsPerOp, res.CPUMsPerAttempt, res.PeakRSSMB)
	}
	var js strings.Builder
	if err := bench.WriteJSON(&js, results); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"scenario"`, `"ops_per_sec"`, `"p50_ms"`, `"p99_ms"`, `"errors"`, `"cpu_ms_per_op"`} {
		if !strings.Contains(js.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, js.String())
		}
	}
}

func osPID() int { return os.Getpid() }

// bodyOf reads the body size out of a session check's note ("… N B body").
func bodyOf(r bench.Result) int {
	var n int
	if i := strings.LastIndex(r.Note, ", "); i >= 0 {
		fmt.Sscanf(r.Note[i+2:], "%d B body", &n)
	}
	return n
}

func TestRunSeedsIdentitiesFirst(t *testing.T) {
	t.Parallel()
	public, admin := newTarget(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := bench.New(ctx, bench.Options{Public: public, Admin: admin, Identities: 150, BatchSize: 50, Scales: []int{100, 200},
		Load: bench.Load{Concurrency: 2, Requests: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	results, err := r.Run(ctx, []string{"admin-create", "lookup-at-scale"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, res := range results {
		names = append(names, res.Scenario)
	}
	want := []string{"identities/seed", "admin-create", "lookup-at-scale@100", "lookup-at-scale/seed",
		"lookup-at-scale/lookup@200", "lookup-at-scale/login@200"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("results %v, want %v", names, want)
	}
	if s := results[0]; s.Ops != 150 || s.Skipped != "" {
		t.Errorf("identities/seed: %+v", s)
	}
	if s := results[3]; s.Ops != 50 {
		t.Errorf("lookup-at-scale/seed added %d identities, want the 50 missing to 200", s.Ops)
	}
	for _, res := range results[4:] {
		if res.Ops != 10 || res.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors %v", res.Scenario, res.Ops, res.Errors, res.ErrorKinds)
		}
	}
}

// TestKratosTargetSkipsHankoScenarios: Ory Kratos answers POST /login with
// 403 from its CSRF protection (and has no such route); the Hanko
// scenarios must say the face is missing, not that their setup failed.
func TestKratosTargetSkipsHankoScenarios(t *testing.T) {
	t.Parallel()
	kratosLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"id":"security_csrf_violation","code":403,"status":"Forbidden","reason":"Please retry the flow"}}`)
	}))
	t.Cleanup(kratosLike.Close)
	ctx := context.Background()
	r, err := bench.New(ctx, bench.Options{Public: kratosLike.URL, Load: bench.Load{Concurrency: 1, Requests: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	results, err := r.Run(ctx, []string{"validate", "me", "hanko-login", "passkey-login"})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("results %+v", results)
	}
	for _, res := range results {
		if !strings.HasPrefix(res.Skipped, "the target has no Hanko Flow API: POST "+kratosLike.URL+"/login answered 403 (security_csrf_violation") {
			t.Errorf("%s: skipped %q", res.Scenario, res.Skipped)
		}
	}
}
