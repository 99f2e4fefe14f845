package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/bench"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
)

// benchFlags are the flags of `latchkey bench`.
type benchFlags struct {
	public, admin, apiKey string
	scenarios             string
	concurrency           int
	duration, warmup      time.Duration
	requests              int64
	serverPID             int
	asJSON, asMarkdown    bool
	password              string
	schemaID              string
	sessions              int
	batchSize             int
	scales                string
	configFile            string
	dev                   bool
	hashAlgorithm         string
	bcryptCost            int
	baselineBody          int
	inProcessBaseline     bool
	timeout               time.Duration
	quiet                 bool
	seedDSN               string
	dbPID                 int
	dbName                string
	distinctTokens        int
	identities            int
	hankoAdminPrefix      string
	webauthnOrigin        string
	totpIdentities        int
	oidcProvider          string
	oidcProviderID        string
	sessionCookie         string
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running Kratos- or Hanko-compatible server (load generator)",
		Long: `Run a closed-loop load against a running server over HTTP/1.1 keep-alive and
report, per scenario, throughput, latency percentiles, errors counted by
kind (method, path, status and the error's first line) and, with
--server-pid, the server's CPU time per successful and per attempted
operation and its peak RSS (read from /proc); with --db-pid, the database
server's CPU time too (the process and all its descendants: pass
PostgreSQL's postmaster or MariaDB's mysqld when the database runs on
this machine). The tool speaks only the Kratos and Hanko wire APIs, so it can be
pointed at Latchkey, Ory Kratos or Hanko. Only loopback targets are accepted.

Scenarios (--scenario NAME[,NAME...] or all):
` + bench.ScenarioHelp() + `
A scenario whose endpoints the target does not have (Kratos targets for
validate and me, for instance), or that needs server configuration the
target lacks, is reported as "skipped: <reason and what to set>", never as a
number. baseline always runs after the session checks of the list, once per
body size they answered with. Identities the scenarios create stay in the
target's database.

--identities N seeds N identities (through --seed-dsn, or the Kratos batch
import PATCH /admin/identities) before the first scenario, so that whoami,
me, hanko-admin-create and the others run against an identifier table of
that size, e.g. on PostgreSQL:
  latchkey bench --identities 50000 --scenario whoami,me,admin-create,hanko-admin-create \
    --server-pid PID --db-pid "$(head -1 /var/lib/postgresql/15/main/postmaster.pid)" --db-name latchkey_bench

Scenarios that need server configuration "latchkey serve --dev" lacks:
  totp-aal2   LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true
  oidc-login  the provider oidc-login runs in this process at --oidc-provider:
              ` + bench.OIDCServerConfig("127.0.0.1:44350", "bench") + `
The login scenarios log the same identities in thousands of times: raise the
server's password attempt limits as bench/run.sh does.

The hash scenario runs the password hasher in this process with the hashers
section of --config (or of --dev's defaults with --dev, as "latchkey serve
--dev" uses); without either, Kratos' production defaults.`,
		Example: `  latchkey serve --dev &
  latchkey bench --scenario whoami,baseline --server-pid $! --dev
  latchkey bench --scenario all --duration 5s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.public, "public", "http://localhost:4433", "public API base URL (loopback only; serve --dev's is http://localhost:4433, where its browser flows and their cookies are)")
	fl.StringVar(&f.admin, "admin", "http://127.0.0.1:4434", "admin API base URL (loopback only; empty skips the admin scenarios)")
	fl.StringVar(&f.apiKey, "api-key", os.Getenv("LATCHKEY_SERVE_ADMIN_API_KEY"), "admin API key, sent as Authorization: Bearer (default $LATCHKEY_SERVE_ADMIN_API_KEY)")
	fl.StringVarP(&f.scenarios, "scenario", "s", "all", "scenarios to run, comma-separated, or all")
	fl.IntVarP(&f.concurrency, "concurrency", "n", 2*runtime.NumCPU(), "concurrent workers (closed loop)")
	fl.DurationVarP(&f.duration, "duration", "d", 5*time.Second, "measured time per scenario")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up per scenario")
	fl.Int64Var(&f.requests, "requests", 0, "cap on measured operations per scenario (0: none)")
	fl.IntVar(&f.serverPID, "server-pid", 0, "PID of the server, for CPU ms/op and peak RSS from /proc")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON array instead of text")
	fl.BoolVar(&f.asMarkdown, "markdown", false, "print a Markdown table instead of text")
	fl.StringVar(&f.password, "password", "bench-Password-1234!", "password of the identities the scenarios create")
	fl.StringVar(&f.schemaID, "schema-id", "default", "identity schema of created identities (traits: {\"email\": …})")
	fl.IntVar(&f.sessions, "sessions", 100, "distinct sessions whoami, validate and me rotate through")
	fl.IntVar(&f.batchSize, "batch-size", 1000, "identities per PATCH /admin/identities request (1 to 1000)")
	fl.StringVar(&f.scales, "scales", "10000,100000", "identity counts lookup-at-scale seeds and measures at")
	fl.StringVarP(&f.configFile, "config", "c", "", "server config file, for the hash scenario's hasher")
	fl.BoolVar(&f.dev, "dev", false, "the server runs with --dev: hash with --dev's hasher defaults")
	fl.StringVar(&f.hashAlgorithm, "hash-algorithm", "", "override the hash scenario's algorithm (argon2 or bcrypt)")
	fl.IntVar(&f.bcryptCost, "bcrypt-cost", 0, "override the hash scenario's bcrypt cost")
	fl.IntVar(&f.baselineBody, "baseline-body", 1024, "baseline body bytes when whoami did not run (else whoami's size)")
	fl.BoolVar(&f.inProcessBaseline, "baseline-in-process", false, "run the baseline server in this process (its CPU then includes the client's)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of each HTTP request")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress or setup lines on stderr")
	fl.IntVar(&f.dbPID, "db-pid", 0, "PID of the database server on this machine (PostgreSQL's postmaster, MariaDB's mysqld): its CPU and its descendants' per op")
	fl.StringVar(&f.dbName, "db-name", "", "with --db-pid of a PostgreSQL postmaster: count only the backends of this database, sampled every 100 ms so those that start or exit during a measurement count too (other clients of a shared server left out)")
	fl.IntVar(&f.distinctTokens, "distinct-tokens", 5000, "fresh JWTs the cache-miss runs of validate and me send, each once (the run ends after that many ops)")
	fl.IntVar(&f.identities, "identities", 0, "seed this many identities before the first scenario (e.g. 50000 on PostgreSQL)")
	fl.StringVar(&f.hankoAdminPrefix, "hanko-admin-prefix", "", "path prefix of the Hanko admin API on the admin listener (hanko.admin_prefix)")
	fl.StringVar(&f.webauthnOrigin, "webauthn-origin", "", "origin passkey-login's authenticators sign for (default: the --public URL, an IP host as localhost, as --dev's relying party)")
	fl.IntVar(&f.totpIdentities, "totp-identities", 1000, "identities totp-aal2 enrols (each code is accepted once: about half the logins of any 30 s)")
	fl.StringVar(&f.oidcProvider, "oidc-provider", "127.0.0.1:44350", "loopback address oidc-login runs its OpenID Connect provider on")
	fl.StringVar(&f.oidcProviderID, "oidc-provider-id", "bench", "the server's provider id for oidc-login's provider")
	fl.StringVar(&f.sessionCookie, "session-cookie", "ory_kratos_session", "name of the Kratos session cookie (session.cookie.name)")
	fl.StringVar(&f.seedDSN, "seed-dsn", "", "seed lookup-at-scale directly into the server's database (its DSN) through the identity service, not HTTP; use --config/--dev for the schemas")
	cmd.AddCommand(newBenchBaselineServerCmd())
	return cmd
}

func runBench(ctx context.Context, cmd *cobra.Command, f *benchFlags) error {
	names, err := bench.ParseScenarios(f.scenarios)
	if err != nil {
		return exitError{code: 2, msg: "Error: --scenario: " + err.Error()}
	}
	if f.asJSON && f.asMarkdown {
		return exitError{code: 2, msg: "Error: --json and --markdown exclude each other"}
	}
	scales, err := parseScales(f.scales)
	if err != nil {
		return exitError{code: 2, msg: "Error: --scales: " + err.Error()}
	}
	hash, err := benchHashParams(f)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	o := bench.Options{
		Public: f.public, Admin: f.admin, APIKey: f.apiKey,
		Load:      bench.Load{Concurrency: f.concurrency, Duration: f.duration, Warmup: f.warmup, Requests: f.requests},
		ServerPID: f.serverPID, Password: f.password, SchemaID: f.schemaID, Sessions: f.sessions,
		BatchSize: f.batchSize, Scales: scales, Hash: hash, BaselineBodySize: f.baselineBody, Timeout: f.timeout,
		DBPID: f.dbPID, DBName: f.dbName, DistinctTokens: f.distinctTokens, Identities: f.identities, HankoAdminPrefix: f.hankoAdminPrefix,
		WebAuthnOrigin: f.webauthnOrigin, TOTPIdentities: f.totpIdentities,
		OIDCProviderAddr: f.oidcProvider, OIDCProviderID: f.oidcProviderID, SessionCookie: f.sessionCookie,
	}
	if !f.inProcessBaseline {
		o.StartBaseline = startBaselineProcess
	}
	if f.seedDSN != "" {
		seed, closeSeed, err := newDirectSeeder(ctx, f)
		if err != nil {
			return err
		}
		defer closeSeed()
		o.Seed = seed
	}
	if !f.quiet {
		o.Log = stderr
		if isTerminal(stderr) {
			o.Progress = stderr
		}
	}
	if f.serverPID != 0 {
		if _, err := bench.ReadProc(f.serverPID); err != nil {
			return exitError{code: 2, msg: "Error: --server-pid: " + err.Error()}
		}
	}
	if f.dbPID != 0 {
		if _, err := bench.ReadProcTreeCPU(f.dbPID); err != nil {
			return exitError{code: 2, msg: "Error: --db-pid: " + err.Error()}
		}
	}
	if f.dbName != "" && f.dbPID == 0 {
		return exitError{code: 2, msg: "Error: --db-name needs --db-pid"}
	}
	if f.distinctTokens < 1 || f.identities < 0 {
		return exitError{code: 2, msg: "Error: --distinct-tokens must be at least 1 and --identities not negative"}
	}
	r, err := bench.New(ctx, o)
	if err != nil {
		return exitError{code: 2, msg: "Error: " + err.Error()}
	}
	defer r.Close()
	out := cmd.OutOrStdout()
	if !f.asJSON {
		header := benchHeader(f, hash)
		if f.asMarkdown {
			fmt.Fprintf(out, "%s\n\n", header)
		} else {
			fmt.Fprintln(out, header)
		}
	}
	results, err := r.Run(ctx, names)
	switch {
	case f.asJSON:
		if werr := bench.WriteJSON(out, results); werr != nil {
			return werr
		}
	case f.asMarkdown:
		if werr := bench.WriteMarkdown(out, results); werr != nil {
			return werr
		}
	default:
		if werr := bench.WriteText(out, results); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench interrupted: %w", err)
	}
	return nil
}

// benchHeader describes the run: machine, Go, load, server and its RSS at
// the start.
func benchHeader(f *benchFlags, hash password.Params) string {
	s := fmt.Sprintf("latchkey bench %s: %d CPUs, %s %s/%s, load average %.2f; concurrency %d, duration %s, warm-up %s",
		currentBuild().Version, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, bench.LoadAverage(),
		f.concurrency, f.duration, f.warmup)
	if f.requests > 0 {
		s += fmt.Sprintf(", at most %d requests", f.requests)
	}
	s += "; target " + f.public
	if f.admin != "" {
		s += " / " + f.admin
	}
	switch {
	case f.dbPID != 0 && f.dbName != "":
		s += fmt.Sprintf("; database pid %d (its backends of database %s, sampled every 100 ms)", f.dbPID, f.dbName)
	case f.dbPID != 0:
		s += fmt.Sprintf("; database pid %d (and descendants)", f.dbPID)
	}
	if f.identities > 0 {
		s += fmt.Sprintf("; %d identities seeded first", f.identities)
	}
	if f.serverPID != 0 {
		if p, err := bench.ReadProc(f.serverPID); err == nil {
			s += fmt.Sprintf("; server pid %d RSS %.1f MB (peak so far %.1f MB)", f.serverPID,
				float64(p.RSS)/(1<<20), float64(p.PeakRSS)/(1<<20))
		}
		if same, err := bench.SharesExecutable(f.serverPID); err == nil && same {
			s += "; NOTE: the server runs this bench's own executable file, so pages of it only this client runs can be counted in the server's RSS too (run the bench from a copy of the file for RSS figures, as bench/run.sh does)"
		}
	}
	return s + "; hash: " + bench.HashParamsString(hash)
}

func parseScales(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		mult := 1
		switch {
		case strings.HasSuffix(p, "k"):
			mult, p = 1000, strings.TrimSuffix(p, "k")
		case strings.HasSuffix(p, "M"):
			mult, p = 1_000_000, strings.TrimSuffix(p, "M")
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count (such as 10000, 10k or 1M)", p)
		}
		out = append(out, n*mult)
	}
	if len(out) == 0 {
		return nil, errors.New("no scale given")
	}
	return out, nil
}

// benchHashParams returns the hasher the hash scenario runs: the server
// config's, with the overrides.
func benchHashParams(f *benchFlags) (password.Params, error) {
	p := password.DefaultParams()
	if f.configFile != "" || f.dev {
		cfg, _, err := loadConfig(f.configFile, f.dev)
		if err != nil {
			return p, err
		}
		p = hasherParams(cfg.Hashers)
	}
	if f.hashAlgorithm != "" {
		p.Algorithm = password.Algorithm(f.hashAlgorithm)
	}
	if f.bcryptCost != 0 {
		p.BcryptCost = f.bcryptCost
	}
	if err := p.Validate(); err != nil {
		return p, exitError{code: 2, msg: "Error: hash parameters: " + err.Error()}
	}
	return p, nil
}

// newDirectSeeder opens the server's database and returns a lookup-at-scale
// seeder that creates identities through the identity service (schema
// validation, identifier extraction, imported hash checks) without HTTP.
func newDirectSeeder(ctx context.Context, f *benchFlags) (func(context.Context, []bench.SeedIdentity) error, func(), error) {
	fail := func(format string, args ...any) error {
		return exitError{code: 1, msg: "Error: --seed-dsn: " + fmt.Sprintf(format, args...)}
	}
	cfg, _, err := loadConfig(f.configFile, f.dev)
	if err != nil {
		return nil, nil, err
	}
	schemas, err := newSchemaRegistry(cfg)
	if err != nil {
		return nil, nil, fail("identity.schemas: %v", err)
	}
	hasher, err := password.NewHasher(hasherParams(cfg.Hashers), nil)
	if err != nil {
		return nil, nil, fail("hashers: %v", err)
	}
	db, err := openBackend(ctx, f.seedDSN)
	if err != nil {
		return nil, nil, fail("cannot open %s: %v", redactDSN(f.seedDSN), err)
	}
	if err := requireMigrated(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	ids, err := identity.New(identity.Options{Store: db, Schemas: schemas, Hasher: hasher, DefaultSchemaID: cfg.Identity.DefaultSchemaID})
	if err != nil {
		db.Close()
		return nil, nil, fail("identities: %v", err)
	}
	seed := func(ctx context.Context, batch []bench.SeedIdentity) error {
		drafts := make([]identity.Draft, len(batch))
		for i, s := range batch {
			traits, err := json.Marshal(map[string]string{"email": s.Email})
			if err != nil {
				return err
			}
			drafts[i] = identity.Draft{SchemaID: f.schemaID, Traits: traits}
			if s.HashedPassword != "" {
				drafts[i].Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: s.HashedPassword}}
			}
		}
		for i, r := range ids.BatchCreate(ctx, drafts) {
			if r.Err != nil {
				return fmt.Errorf("create %s: %w", batch[i].Email, r.Err)
			}
		}
		return nil
	}
	return seed, func() { db.Close() }, nil
}

// startBaselineProcess starts `latchkey bench baseline-server` as a child
// process, so its CPU time can be read apart from the client's.
func startBaselineProcess(ctx context.Context, size int) (string, int, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, fmt.Errorf("baseline server: %w", err)
	}
	c := exec.Command(exe, "bench", "baseline-server", "--body-size", strconv.Itoa(size))
	c.Stderr = os.Stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		return "", 0, nil, fmt.Errorf("baseline server: %w", err)
	}
	if err := c.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("baseline server: %w", err)
	}
	stop := func() {
		c.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("baseline server did not report its address: %w", err)
	}
	return strings.TrimSpace(line), c.Process.Pid, stop, nil
}

func newBenchBaselineServerCmd() *cobra.Command {
	var (
		size int
		addr string
	)
	cmd := &cobra.Command{
		Use:    "baseline-server",
		Short:  "Serve the baseline scenario's trivial handler (started by latchkey bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || (host != "127.0.0.1" && host != "::1" && host != "localhost") {
				return exitError{code: 2, msg: "Error: --addr must be a loopback host:port"}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("baseline server: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "http://%s\n", ln.Addr())
			if c, ok := cmd.OutOrStdout().(io.Closer); ok && cmd.OutOrStdout() != os.Stdout {
				c.Close()
			}
			return bench.ServeBaseline(ctx, ln, size)
		},
	}
	cmd.Flags().IntVar(&size, "body-size", 1024, "body bytes of every answer")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "loopback address to listen on")
	return cmd
}
