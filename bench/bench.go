package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/method/password"
)

// Options configure a Runner.
type Options struct {
	// Public and Admin are the base URLs of the target's public and admin
	// listeners (loopback only). Admin may be empty when no scenario needs
	// it; such scenarios are then skipped.
	Public, Admin string
	// APIKey, when set, is sent to the admin listener as a bearer token.
	APIKey string
	// Load is the concurrency, duration, warm-up and request cap of every
	// measured scenario.
	Load Load
	// ServerPID, when not 0, is the server's process: its CPU time per
	// operation and peak RSS are reported.
	ServerPID int
	// DBPID, when not 0, is the database server's process (PostgreSQL's
	// postmaster, MariaDB's mysqld) on this machine: the CPU time of it and
	// of all its descendants (the backends), live and exited, is reported
	// per operation next to the server's.
	DBPID int
	// DBName, when set with DBPID (a PostgreSQL postmaster), counts only
	// the backends serving that database, so other clients of a shared
	// server are left out: they are sampled every 100 ms during the
	// measured phase, and one that starts or exits within it counts from
	// its start or up to its last sample.
	DBName string
	// DistinctTokens is how many fresh Hanko JWTs the cache-miss
	// measurements of validate and me use, each once (5000 when 0).
	DistinctTokens int
	// Identities, when not 0, is how many identities Run seeds (through
	// Seed or the Kratos batch import) before its first scenario, so that
	// every scenario runs against a table of that size.
	Identities int
	// HankoAdminPrefix is the path prefix of the Hanko admin API on the
	// admin listener (Latchkey's hanko.admin_prefix; empty for the root).
	HankoAdminPrefix string
	// TOTPIdentities is how many identities totp-aal2 enrols in TOTP
	// (1000 when 0). Each accepts a code once per 30 s step, two steps at
	// a time: a run needs about half as many identities as logins in any
	// 30 s, or its ops fail with "raise --totp-identities".
	TOTPIdentities int
	// OIDCProviderAddr is the loopback address oidc-login runs its OpenID
	// Connect provider on ("127.0.0.1:44350" when empty); the server must
	// be configured with it (OIDCServerConfig).
	OIDCProviderAddr string
	// OIDCProviderID is the server's provider id for it ("bench").
	OIDCProviderID string
	// SessionCookie is the Kratos session cookie's name
	// ("ory_kratos_session").
	SessionCookie string
	// WebAuthnOrigin is the origin the virtual authenticators of
	// passkey-login put in their client data; empty derives it from Public
	// (an IP host becomes localhost, as Latchkey's --dev relying party).
	WebAuthnOrigin string
	// Password is the password of every identity the tool creates.
	Password string
	// SchemaID is the identity schema of created identities ("default").
	SchemaID string
	// Sessions is how many distinct sessions whoami, validate and me
	// rotate through.
	Sessions int
	// BatchSize is the number of identities per batch-import request (at
	// most 1000, Kratos' limit).
	BatchSize int
	// Scales are the identity counts lookup-at-scale seeds and measures at,
	// ascending.
	Scales []int
	// Seed, when not nil, creates lookup-at-scale's identities instead of
	// PATCH /admin/identities: a direct path into the target's database
	// that must still go through its identity service. It is called with
	// batches of at most BatchSize identities, on the runner's concurrency.
	Seed func(ctx context.Context, batch []SeedIdentity) error
	// Hash is the hasher the hash scenario runs in this process; it should
	// be the server's configuration.
	Hash password.Params
	// BaselineBodySize is the body size of the baseline handler when
	// whoami did not run (whoami's body size is used when it did).
	BaselineBodySize int
	// StartBaseline starts the baseline server for a body size and returns
	// its URL, its PID (0 when it runs in this process) and a stop
	// function. Nil starts it in this process.
	StartBaseline func(ctx context.Context, bodySize int) (url string, pid int, stop func(), err error)
	// Timeout bounds each HTTP request (30 s when 0).
	Timeout time.Duration
	// Progress, when not nil, receives progress lines (a terminal).
	Progress io.Writer
	// Log, when not nil, receives one line per setup step.
	Log io.Writer
}

// SeedIdentity is one identity lookup-at-scale seeds: the e-mail trait and,
// when not empty, an imported password hash.
type SeedIdentity struct {
	Email          string
	HashedPassword string
}

// Result is the outcome of one measurement. Times are milliseconds.
type Result struct {
	Scenario   string   `json:"scenario"`
	Skipped    string   `json:"skipped,omitempty"`
	Note       string   `json:"note,omitempty"`
	Ops        int64    `json:"ops"`
	Errors     int64    `json:"errors"`
	FirstError string   `json:"first_error,omitempty"`
	Seconds    float64  `json:"seconds"`
	OpsPerSec  float64  `json:"ops_per_sec"`
	P50        float64  `json:"p50_ms"`
	P90        float64  `json:"p90_ms"`
	P99        float64  `json:"p99_ms"`
	Max        float64  `json:"max_ms"`
	CPUMsPerOp *float64 `json:"cpu_ms_per_op,omitempty"`
	// CPUMsPerAttempt is the same CPU time divided by every attempted op,
	// failed ones included.
	CPUMsPerAttempt *float64 `json:"cpu_ms_per_attempt,omitempty"`
	// DBCPUMsPerOp and DBCPUMsPerAttempt are the database server's CPU time
	// (Options.DBPID and its descendants) per successful and per attempted
	// op.
	DBCPUMsPerOp      *float64 `json:"db_cpu_ms_per_op,omitempty"`
	DBCPUMsPerAttempt *float64 `json:"db_cpu_ms_per_attempt,omitempty"`
	// ErrorKinds counts the failures by kind (see ErrorKind).
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	// Crypto names the cryptography one op makes the server do (and the
	// client, when it signs), so that "CPU beyond the cryptography" can be
	// judged.
	Crypto string `json:"crypto,omitempty"`
	// CPUOf says whose CPU CPUMsPerOp is: "server", "baseline-server" or
	// "bench" (the hash scenario runs in this process).
	CPUOf       string   `json:"cpu_of,omitempty"`
	PeakRSSMB   *float64 `json:"peak_rss_mb,omitempty"`
	Concurrency int      `json:"concurrency"`
	Load1       float64  `json:"load1"`
	// Items is how many items one op handles (identities per batch), 1
	// otherwise.
	Items int `json:"items_per_op"`
}

// Runner runs scenarios against one target.
type Runner struct {
	o      Options
	hc     *http.Client
	public string
	admin  string
	runID  string

	mu     sync.Mutex
	users  []user     // identities with Password, created on demand
	bodies []bodySize // body sizes of the session checks run, for baseline
	seq    int        // counter for unique identifiers
	seeded int        // identities [0, seeded) of scaleEmail exist

	hankoChecked bool  // hankoFace ran
	hankoErr     error // and its answer
}

type user struct{ id, email string }

// bodySize is the body size of one session check's answer.
type bodySize struct {
	scenario string
	size     int
}

// recordBody remembers the body size of a session check for baseline.
func (r *Runner) recordBody(scenario string, size int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, bodySize{scenario, size})
}

// New checks o (targets must be loopback URLs) and returns a Runner. It
// fails with a description of the first bad option.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Load.Concurrency < 1 {
		return nil, errors.New("bench: concurrency must be at least 1")
	}
	if o.Load.Duration <= 0 && o.Load.Requests <= 0 {
		return nil, errors.New("bench: a duration or a request cap is required")
	}
	if o.Public == "" {
		return nil, errors.New("bench: the public URL is required")
	}
	u, err := CheckTarget(ctx, o.Public)
	if err != nil {
		return nil, fmt.Errorf("bench: public: %w", err)
	}
	r := &Runner{o: o, public: strings.TrimRight(u.String(), "/")}
	if o.Admin != "" {
		a, err := CheckTarget(ctx, o.Admin)
		if err != nil {
			return nil, fmt.Errorf("bench: admin: %w", err)
		}
		r.admin = strings.TrimRight(a.String(), "/")
	}
	if r.o.Password == "" {
		r.o.Password = "bench-Password-1234!"
	}
	if r.o.SchemaID == "" {
		r.o.SchemaID = "default"
	}
	if r.o.Sessions < 1 {
		r.o.Sessions = 100
	}
	if r.o.DistinctTokens < 1 {
		r.o.DistinctTokens = 5000
	}
	if r.o.OIDCProviderAddr == "" {
		r.o.OIDCProviderAddr = "127.0.0.1:44350"
	}
	if _, err := CheckTarget(ctx, "http://"+r.o.OIDCProviderAddr); err != nil {
		return nil, fmt.Errorf("bench: OIDC provider address: %w", err)
	}
	if r.o.OIDCProviderID == "" {
		r.o.OIDCProviderID = "bench"
	}
	if r.o.SessionCookie == "" {
		r.o.SessionCookie = "ory_kratos_session"
	}
	if r.o.TOTPIdentities < 1 {
		r.o.TOTPIdentities = 1000
	}
	if r.o.BatchSize < 1 || r.o.BatchSize > 1000 {
		r.o.BatchSize = 1000
	}
	if r.o.BaselineBodySize <= 0 {
		r.o.BaselineBodySize = 1024
	}
	if r.o.Timeout <= 0 {
		r.o.Timeout = 30 * time.Second
	}
	if r.o.Hash.Algorithm == "" {
		r.o.Hash = password.DefaultParams()
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("bench: random run id: %w", err)
	}
	r.runID = hex.EncodeToString(b[:])
	r.hc = newClient(o.Load.Concurrency, r.o.Timeout)
	return r, nil
}

// Close releases idle connections.
func (r *Runner) Close() { r.hc.CloseIdleConnections() }

// scenario is one named measurement.
type scenario struct {
	name, about string
	run         func(r *Runner, ctx context.Context) ([]Result, error)
}

// scenarios in the order `all` runs them: baseline right after the
// session checks it is compared with, hashing last.
var scenarios = []scenario{
	{"whoami", "Kratos GET /sessions/whoami with --sessions distinct session tokens", (*Runner).whoami},
	{"validate", "Hanko GET and POST /sessions/validate: cache-hit (--sessions JWTs) and cache-miss (--distinct-tokens fresh JWTs, each once)", (*Runner).validate},
	{"me", "Hanko GET /me: cache-hit and cache-miss, as validate", (*Runner).me},
	{"baseline", "the same client against a trivial Go handler, once per body size of the session checks run (always after them)", (*Runner).baseline},
	{"kratos-login", "Kratos native login: GET /self-service/login/api, POST password", (*Runner).kratosLogin},
	{"kratos-register", "Kratos native registration with password", (*Runner).kratosRegister},
	{"hanko-login", "Hanko /login flow: init, capabilities, identifier, password", (*Runner).hankoLogin},
	{"passkey-login", "Hanko /login with a passkey: a virtual authenticator here signs a real ES256 assertion per op", (*Runner).passkeyLogin},
	{"totp-aal2", "Kratos native password login, then the aal2 step-up with a TOTP code (pquerna/otp), each code used once", (*Runner).totpAAL2},
	{"oidc-login", "Kratos browser login through an OpenID Connect provider run in this process (mockoidc; the server must be configured with it)", (*Runner).oidcLogin},
	{"admin-create", "Kratos POST /admin/identities without password", (*Runner).adminCreate},
	{"hanko-admin-create", "Hanko admin POST /users, one verified e-mail, no password (admin-create's work)", (*Runner).hankoAdminCreate},
	{"ui-login-page", "hosted GET /ui/login as a new browser, flow creation and render included", (*Runner).uiLoginPage},
	{"batch-import", "Kratos PATCH /admin/identities, batches with bcrypt-hashed passwords", (*Runner).batchImport},
	{"lookup-at-scale", "seed identities, then credentials_identifier lookup and password login at each scale", (*Runner).lookupAtScale},
	{"hash", "the configured password hasher alone, in this process", (*Runner).hash},
}

// ScenarioNames returns every scenario name, in the order `all` runs them.
func ScenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// ScenarioHelp returns one "name  description" line per scenario.
func ScenarioHelp() string {
	var b strings.Builder
	for _, s := range scenarios {
		fmt.Fprintf(&b, "  %-19s %s\n", s.name, s.about)
	}
	return b.String()
}

// ParseScenarios splits a comma-separated list of scenario names ("all"
// for every one) and fails on an unknown name.
func ParseScenarios(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case n == "all":
			out = append(out, ScenarioNames()...)
		case slices.Contains(ScenarioNames(), n):
			out = append(out, n)
		default:
			return nil, fmt.Errorf("unknown scenario %q; known: all, %s", n, strings.Join(ScenarioNames(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario given")
	}
	return slices.Compact(out), nil
}

// Run runs the named scenarios in order and returns one or more results
// each. A scenario that cannot run against the target is a result with
// Skipped set; one that fails in setup is a result with Skipped set to the
// failure (the run continues). Run fails only when ctx ends.
//
// baseline runs after the session checks (whoami, validate, me) of the
// list, wherever it was named, because it answers with their body sizes.
// With Options.Identities, the identities are seeded first and reported as
// a result of their own.
func (r *Runner) Run(ctx context.Context, names []string) ([]Result, error) {
	names = baselineLast(names)
	var out []Result
	if r.o.Identities > 0 {
		res, err := r.prefill(ctx)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err != nil {
			return append(out, Result{Scenario: "identities/seed", Skipped: "setup failed: " + err.Error()}), nil
		}
		out = append(out, res)
	}
	for _, n := range names {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == n })
		if i < 0 {
			return out, fmt.Errorf("bench: unknown scenario %q", n)
		}
		res, err := scenarios[i].run(r, ctx)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err != nil {
			var skip *SkipError
			reason := "setup failed: " + err.Error()
			if errors.As(err, &skip) {
				reason = skip.Reason
			}
			res = append(res, Result{Scenario: n, Skipped: reason})
		}
		out = append(out, res...)
	}
	return out, nil
}

// baselineLast moves baseline after the last session check in names.
func baselineLast(names []string) []string {
	b := slices.Index(names, "baseline")
	if b < 0 {
		return names
	}
	last := -1
	for i, n := range names {
		if n == "whoami" || n == "validate" || n == "me" {
			last = i
		}
	}
	if last < b {
		return names
	}
	out := slices.Delete(slices.Clone(names), b, b+1)
	return slices.Insert(out, last, "baseline")
}

func (r *Runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, format+"\n", args...)
	}
}

// measure runs op under the runner's load and reads the CPU time and peak
// RSS of pid (0: none) around the measured phase.
func (r *Runner) measure(ctx context.Context, name, note string, pid int, cpuOf string, items int, op Op) (Result, error) {
	return r.measureLoad(ctx, r.o.Load, name, note, pid, cpuOf, items, op)
}

func (r *Runner) measureLoad(ctx context.Context, l Load, name, note string, pid int, cpuOf string, items int, op Op) (Result, error) {
	var (
		before   ProcSample
		procErr  error
		sampler  *rssSampler
		dbBefore time.Duration
		dbMeter  *backendsMeter
		dbErr    = errors.New("no database pid")
	)
	dbPID := 0
	if cpuOf == "server" {
		dbPID = r.o.DBPID
	}
	between := func() {
		switch {
		case dbPID != 0 && r.o.DBName != "":
			dbMeter, dbErr = startBackendsMeter(postgresBackends(dbPID, r.o.DBName), 100*time.Millisecond)
		case dbPID != 0:
			dbBefore, dbErr = ReadProcTreeCPU(dbPID)
		}
		if pid == 0 {
			return
		}
		before, procErr = ReadProc(pid)
		if procErr == nil {
			sampler = startRSSSampler(pid, 100*time.Millisecond)
		}
	}
	var progress func(int64, int64, time.Duration)
	if r.o.Progress != nil {
		progress = progressLine(r.o.Progress, name, l)
	}
	st, err := Measure(ctx, l, op, between, progress)
	var peak int64
	if sampler != nil {
		peak = sampler.Stop()
	}
	var dbCPU time.Duration
	switch {
	case dbMeter != nil:
		dbCPU, dbErr = dbMeter.Stop()
	case dbPID != 0 && dbErr == nil:
		var after time.Duration
		if after, dbErr = ReadProcTreeCPU(dbPID); dbErr == nil {
			dbCPU = after - dbBefore
		}
	}
	if r.o.Progress != nil {
		fmt.Fprint(r.o.Progress, "\r\033[K")
	}
	if err != nil {
		return Result{}, err
	}
	if st.Exhausted != "" {
		note += fmt.Sprintf("; ended early after %d ops: %s", st.Ops+st.Errors, st.Exhausted)
	}
	res := Result{
		Scenario: name, Note: note, Ops: st.Ops, Errors: st.Errors, FirstError: st.FirstError, ErrorKinds: st.ErrorKinds,
		Seconds: st.Elapsed.Seconds(), OpsPerSec: st.OpsPerSec(),
		P50: ms(st.Percentile(50)), P90: ms(st.Percentile(90)), P99: ms(st.Percentile(99)), Max: ms(st.Percentile(100)),
		Concurrency: l.Concurrency, Load1: LoadAverage(), Items: max(items, 1),
	}
	attempts := st.Ops + st.Errors
	if pid != 0 && procErr == nil {
		after, err := ReadProc(pid)
		if err == nil && attempts > 0 {
			res.CPUOf = cpuOf
			res.CPUMsPerOp, res.CPUMsPerAttempt = perOp(after.CPU-before.CPU, st.Ops, attempts)
			mb := float64(max(peak, after.RSS)) / (1 << 20)
			res.PeakRSSMB = &mb
		}
	}
	if dbPID != 0 && dbErr == nil && attempts > 0 {
		res.DBCPUMsPerOp, res.DBCPUMsPerAttempt = perOp(dbCPU, st.Ops, attempts)
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// perOp divides cpu by the successful ops (nil when there were none) and
// by the attempted ops.
func perOp(cpu time.Duration, ops, attempts int64) (perSuccess, perAttempt *float64) {
	if ops > 0 {
		v := ms(cpu) / float64(ops)
		perSuccess = &v
	}
	v := ms(cpu) / float64(attempts)
	return perSuccess, &v
}

// nextID returns a number unique within this runner.
func (r *Runner) nextID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	return r.seq
}

// email returns a fresh e-mail address unique to this run.
func (r *Runner) email(kind string) string {
	return fmt.Sprintf("bench-%s-%s-%d@example.com", r.runID, kind, r.nextID())
}

// serverPID is the PID to read for the target's CPU, or 0.
func (r *Runner) serverPID() int { return r.o.ServerPID }

// parallel runs f(i) for i in [0, n) on the runner's concurrency and returns
// the first error.
func (r *Runner) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range max(1, min(r.o.Load.Concurrency, n)) {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// pid of this process, for scenarios that run in it.
var selfPID = os.Getpid()
