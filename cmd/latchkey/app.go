package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/hanko"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/observe"
	"github.com/latchkey/latchkey/pwned"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/ui"
	"github.com/latchkey/latchkey/upstream"
	"github.com/latchkey/latchkey/webhook"
)

// app holds every part of a running server, built once by build.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	db       backend
	schemas  *schema.Registry
	hasher   *password.Hasher
	cipher   *cipher.Cipher
	signer   *cipher.Signer
	keys     *session.Keys
	sessions *session.Manager
	// sessionCache is the Manager's cache of session checks, nil when
	// session.cache.enabled is false; serve runs its change-log poller.
	sessionCache *session.Cache
	ids          *identity.Service
	courier      *courier.Courier
	limiter      ratelimit.Limiter
	kratos       *kratos.Handler
	selfsvc      *kratos.SelfService
	hanko        *hanko.Handler  // nil when hanko.enabled is false
	webhooks     *webhook.Kratos // nil without web_hook hooks
	metrics      *observe.Metrics
	tracing      *observe.Tracing // nil unless OTEL_* asks for traces
}

// maxBody caps every request body; identity imports are the largest.
const maxBody = 16 << 20

// build opens the database and constructs every part. Each failure is one
// clear message with a non-zero exit.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger, migrate bool) (*app, error) {
	fail := func(format string, args ...any) error {
		return exitError{code: 1, msg: "Error: " + fmt.Sprintf(format, args...)}
	}
	a := &app{cfg: cfg, log: log, metrics: observe.NewMetrics()}
	var err error
	if a.schemas, err = newSchemaRegistry(cfg); err != nil {
		return nil, fail("identity.schemas: %v", err)
	}
	if a.hasher, err = password.NewHasher(hasherParams(cfg.Hashers), nil); err != nil {
		return nil, fail("hashers: %v", err)
	}
	a.hasher.ObserveWith(a.metrics.ObserveHash)
	if a.cipher, err = cipher.New(cfg.Secrets.Cipher...); err != nil {
		return nil, fail("secrets.cipher: %v", err)
	}
	if a.signer, err = cipher.NewSigner(cfg.Secrets.Default...); err != nil {
		return nil, fail("secrets.default: %v", err)
	}

	openCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if a.db, err = openBackendWith(openCtx, cfg.DSN, sqliteOptions(cfg.SQLite)); err != nil {
		return nil, fail("cannot open the database %s: %v", redactDSN(cfg.DSN), err)
	}
	ok := false
	defer func() {
		if !ok {
			a.db.Close()
		}
	}()
	if err := a.observe(ctx); err != nil {
		return nil, fail("%v", err)
	}
	if migrate {
		n, err := a.db.Migrate(openCtx)
		if err != nil {
			return nil, fail("migrating the database failed: %v", err)
		}
		if n > 0 {
			log.Info("applied database migrations", "count", n)
		}
	} else if err := requireMigrated(openCtx, a.db); err != nil {
		return nil, err
	}

	a.keys, err = session.NewKeys(openCtx, a.db, a.cipher, session.KeysOptions{
		Algorithm:       session.Algorithm(cfg.Session.JWT.Algorithm),
		VerifyCacheSize: verifyCacheSize(cfg.Session.JWT.VerifyCacheSize),
		OnReloadError:   func(err error) { log.Error("reload signing keys", "error", err) },
	})
	if err != nil {
		return nil, fail("signing keys: %v", err)
	}
	if cc := cfg.Session.Cache; cc.Enabled {
		a.sessionCache = session.NewCache(a.db, session.CacheOptions{MaxEntries: cc.MaxEntries, SyncInterval: cc.SyncInterval, MaxAge: cc.MaxAge,
			OnSyncError: func(err error) { log.Warn("session cache: read the session change log", "error", err) }})
		a.db.OnSessionChanges(a.sessionCache.Evict)
		a.metrics.SessionCache(a.sessionCache.Stats, a.sessionCache.Len)
	}
	if a.sessions, err = session.NewManager(a.db, a.signer, session.Options{Cache: a.sessionCache}); err != nil {
		return nil, fail("sessions: %v", err)
	}
	if a.ids, err = identity.New(identity.Options{
		Store: a.db, Schemas: a.schemas, Hasher: a.hasher, DefaultSchemaID: cfg.Identity.DefaultSchemaID,
	}); err != nil {
		return nil, fail("identities: %v", err)
	}
	courierOpts, err := courier.OptionsFromConfig(cfg.Courier, "Latchkey")
	if err != nil {
		return nil, fail("courier: %v", err)
	}
	courierOpts.Tracer = a.jobTracer()
	if a.courier, err = courier.New(courierOpts); err != nil {
		return nil, fail("courier: %v", err)
	}
	// Rate-limit counters live in the database, so replicas share them.
	if a.limiter, err = newLimiter(cfg.RateLimit, a.db, a.signer.MAC([]byte("latchkey ratelimit keys"))); err != nil {
		return nil, fail("ratelimit: %v", err)
	}
	a.limiter = a.metrics.Limiter(a.limiter)
	// One attempt policy for every secret check of both faces.
	attempts, err := ratelimit.NewPolicy(a.limiter, policyConfig(cfg.RateLimit))
	if err != nil {
		return nil, fail("ratelimit: %v", err)
	}
	kratosTOTP, err := totp.New(a.cipher, totp.Options{Issuer: cfg.SelfService.Methods.TOTP.Config.Issuer})
	if err != nil {
		return nil, fail("selfservice.methods.totp: %v", err)
	}
	backupCodes, err := lookup.New(a.cipher, lookup.Options{})
	if err != nil {
		return nil, fail("selfservice.methods.lookup_secret: %v", err)
	}
	// The Kratos face's passkey and webauthn methods run their ceremonies
	// for the one relying party (selfservice.methods.passkey.config.rp).
	var passkeys, securityKeys *webauthn.Method
	if m := cfg.SelfService.Methods; m.Passkey.Enabled || m.WebAuthn.Enabled {
		rp := cfg.WebAuthnRP()
		ceremonies, err := webauthn.New(webauthn.Config{RPID: rp.ID, RPDisplayName: rp.DisplayName, RPOrigins: rp.Origins,
			NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
		if err != nil {
			return nil, fail("selfservice.methods.passkey.config.rp: %v", err)
		}
		if m.Passkey.Enabled {
			passkeys = ceremonies
		}
		if m.WebAuthn.Enabled {
			securityKeys = ceremonies
		}
	}
	if a.kratos, err = kratos.New(kratos.Options{
		Identities: a.ids, Sessions: a.db, PublicBaseURL: cfg.Serve.Public.BaseURL, AdminBaseURL: cfg.Serve.Admin.BaseURL,
		Decrypter: a.cipher, Encrypter: a.cipher, WebAuthn: a.db, SessionLifespan: cfg.Session.Lifespan, EarliestPossibleExtend: cfg.Session.EarliestPossibleExtend, Log: log,
	}); err != nil {
		return nil, fail("kratos face: %v", err)
	}
	var thirdParty *oidc.Method
	if cfg.SelfService.Methods.OIDC.Enabled || (cfg.Hanko.Enabled && cfg.Hanko.ThirdParty.Offered()) {
		if thirdParty, err = buildOIDC(ctx, cfg.SelfService.Methods.OIDC.Config, cfg.Hanko.ThirdParty, a.cipher,
			a.tracing.Client(upstream.NewHTTPClient())); err != nil {
			return nil, fail("%v", err)
		}
	}
	if hooks := cfg.SelfService.WebHooks(); len(hooks) > 0 {
		ko := webhook.KratosOptions{Store: a.db, Hooks: hooks, Logger: log, Tracer: a.jobTracer(),
			Client: a.tracing.Client(webhook.NewClient(webhook.DefaultKratosTimeout))}
		if ko.Jsonnet, err = jsonnet.New(jsonnet.Options{}); err != nil {
			return nil, fail("web_hook: %v", err)
		}
		if a.webhooks, err = webhook.NewKratos(ko); err != nil {
			return nil, fail("web_hook: %v", err)
		}
	}
	var tokenizerJsonnet *jsonnet.Evaluator
	for _, t := range cfg.Session.WhoAmI.Tokenizer.Templates {
		if t.ClaimsMapperURL != "" && tokenizerJsonnet == nil {
			if tokenizerJsonnet, err = jsonnet.New(jsonnet.Options{}); err != nil {
				return nil, fail("tokenize_as claims mappers: %v", err)
			}
		}
	}
	var breaches password.BreachCounter
	if pc := cfg.SelfService.Methods.Password.Config; pc.HaveIBeenPwnedEnabled {
		breaches = loggedBreaches{pwned.New(pc.HaveIBeenPwnedHost,
			a.tracing.Client(&http.Client{Timeout: pwned.DefaultTimeout})), log, pc.IgnoreNetworkErrors}
	}
	if a.selfsvc, err = kratos.NewSelfService(kratos.SelfServiceOptions{
		Store: a.db, Identities: a.ids, Sessions: a.sessions, Keys: a.keys, Hasher: a.hasher,
		TOTP: kratosTOTP, Lookup: backupCodes, Attempts: attempts, Passkeys: passkeys, SecurityKeys: securityKeys, OIDC: thirdParty,
		Cookies: a.cipher, PublicBaseURL: cfg.Serve.Public.BaseURL,
		SelfService: cfg.SelfService, Session: cfg.Session,
		AddressFlows: &kratos.AddressFlowOptions{Courier: a.courier, MAC: a.signer},
		Log:          log, Outcomes: a.metrics.Auth("kratos"), WebHooks: a.webhooks,
		Jsonnet: tokenizerEvaluator(tokenizerJsonnet), Breaches: breaches,
	}); err != nil {
		return nil, fail("kratos self-service: %v", err)
	}
	if cfg.Hanko.Enabled {
		passcodes, err := code.NewIssuer(a.signer, code.Options{TTL: cfg.Hanko.Passcode.TTL, MaxAttempts: cfg.Hanko.Passcode.MaxAttempts})
		if err != nil {
			return nil, fail("hanko.passcode: %v", err)
		}
		var hankoLimiter ratelimit.Limiter
		if cfg.Hanko.RateLimiter.Enabled {
			hankoLimiter = a.limiter
		}
		events, err := webhook.NewDispatcher(webhook.DispatcherOptions{Config: cfg.Hanko.Webhooks, Tracer: a.jobTracer()})
		if err != nil {
			return nil, fail("hanko.webhooks: %v", err)
		}
		// Passkeys need a usable relying party; without one (an IP host
		// and no rp.id) a warning said so at start and none is offered.
		var passkeys *webauthn.Method
		rp := cfg.WebAuthnRP()
		if rp.Usable() && cfg.Hanko.Passkey.Enabled {
			passkeys, err = webauthn.New(webauthn.Config{RPID: rp.ID, RPDisplayName: rp.DisplayName, RPOrigins: rp.Origins,
				UserVerification: cfg.Hanko.Passkey.UserVerification, Attestation: cfg.Hanko.Passkey.AttestationPreference,
				NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
			if err != nil {
				return nil, fail("hanko.passkey: %v", err)
			}
		}
		// Security keys use the same relying party with their own
		// attachment, user verification and attestation.
		var securityKeys *webauthn.Method
		if sk := cfg.Hanko.MFA.SecurityKeys; rp.Usable() && cfg.Hanko.MFA.Enabled && sk.Enabled {
			securityKeys, err = webauthn.New(webauthn.Config{RPID: rp.ID, RPDisplayName: rp.DisplayName, RPOrigins: rp.Origins,
				SecurityKeyUserVerification: sk.UserVerification, SecurityKeyAttachment: sk.AuthenticatorAttachment,
				Attestation: sk.AttestationPreference, NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
			if err != nil {
				return nil, fail("hanko.mfa.security_keys: %v", err)
			}
		}
		if a.hanko, err = hanko.New(hanko.Options{
			WebAuthn: passkeys, SecurityKeys: securityKeys,
			Store: a.db, Identities: a.ids, Sessions: a.sessions, Keys: a.keys, Hasher: a.hasher,
			OIDC:  thirdParty,
			Codes: passcodes, Courier: a.courier, Limiter: hankoLimiter, Events: events,
			TOTP: kratosTOTP, Attempts: attempts, Signer: a.signer,
			Config: cfg.Hanko, JWT: cfg.Session.JWT, AdminAPIKey: cfg.Serve.Admin.APIKey, Debug: false, Log: log,
			Outcomes: a.metrics.Auth("hanko"),
		}); err != nil {
			return nil, fail("hanko face: %v", err)
		}
	}
	ok = true
	return a, nil
}

// requireMigrated refuses to serve on a database with pending migrations.
func requireMigrated(ctx context.Context, db backend) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return exitError{code: 1, msg: "Error: cannot read the migration status: " + err.Error()}
	}
	for _, s := range st {
		if !s.Applied {
			return exitError{code: 1, msg: "Error: the database schema is not up to date; run `latchkey migrate sql` first (or serve with --dev, which migrates)."}
		}
	}
	return nil
}

func hasherParams(h config.Hashers) password.Params {
	p := password.DefaultParams()
	p.Algorithm = password.Algorithm(h.Algorithm)
	p.Argon2 = password.Argon2Params{
		Memory:      uint32(uint64(h.Argon2.Memory) / 1024),
		Iterations:  h.Argon2.Iterations,
		Parallelism: h.Argon2.Parallelism,
		SaltLength:  h.Argon2.SaltLength,
		KeyLength:   h.Argon2.KeyLength,
	}
	p.BcryptCost = h.Bcrypt.Cost
	return p
}

// internalError is the last-resort answer of the panic recovery middleware.
func internalError(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{
		"code": 500, "status": "Internal Server Error",
		"message": "An internal server error occurred, please contact the system administrator",
	}})
}

// middleware is the plumbing of a listener; trusted are the proxies whose
// X-Forwarded-For / X-Real-IP name the client (the public listener's
// serve.public.trusted_proxies).
func (a *app) middleware(h http.Handler, cors api.CORS, listener string, trusted []netip.Prefix) http.Handler {
	var tr api.RequestTracer
	if a.tracing != nil {
		tr = a.tracing
	}
	return api.Chain(h,
		api.WithRequestID(),
		api.WithClientIP(trusted), // inside WithRequestID: the IP rides in its request state
		api.WithRequestLog(a.log, a.metrics.Requests(listener), tr),
		api.WithRecovery(a.log, internalError),
		api.WithCORS(cors),
		api.WithBodyLimit(maxBody),
		api.NoCache(),
	)
}

// publicHandler serves both faces on the public listener: their paths do
// not overlap (Kratos: /self-service/…, /sessions/whoami, /sessions,
// /schemas; Hanko: /login, /registration, /profile, /me, /logout,
// /sessions/validate, /.well-known/jwks.json), so one mux holds both and
// ServeMux refuses a conflicting registration at start.
func (a *app) publicHandler() http.Handler {
	mux := http.NewServeMux()
	api.MountHealth(mux, a.db)
	a.kratos.MountPublic(mux)
	a.selfsvc.MountPublic(mux)
	if a.cfg.UI.Enabled {
		ui.New(ui.Options{Public: mux, PublicBaseURL: a.cfg.Serve.Public.BaseURL, SelfService: a.cfg.SelfService, Theme: a.cfg.UI,
			DefaultSchemaID: a.cfg.Identity.DefaultSchemaID, Log: a.log}).Mount(mux)
	}
	cors := listenerCORS(a.cfg.Serve.Public.CORS)
	if a.hanko != nil {
		a.hanko.MountPublic(mux)
		cors = mergeCORS(cors, a.hanko.CORS())
	}
	return a.middleware(api.RecordRoute(mux), cors, "public", a.cfg.Serve.Public.ProxyPrefixes())
}

// adminHandler serves both faces on the admin listener. A request whose
// method and path the Hanko admin API registered goes there (it checks the
// admin API key itself and answers in Hanko's error shape); everything else
// is the Kratos admin API, which also answers Kratos' un-prefixed paths
// (GET :4434/identities ≡ GET :4434/admin/identities) and checks the key
// with Kratos' error envelope.
func (a *app) adminHandler() http.Handler {
	kmux := http.NewServeMux()
	api.MountHealth(kmux, a.db)
	// GET /version reaches this as /admin/version through AdminPrefix.
	kmux.HandleFunc("GET /admin/version", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"version": currentBuild().Version})
	})
	a.kratos.MountAdmin(kmux)
	a.kratos.MountCourier(kmux, a.db)
	a.selfsvc.MountAdmin(kmux)
	// Prometheus: Kratos' path and Hanko's admin /metrics, behind the
	// admin API key like every admin path.
	kmux.Handle("GET /admin/metrics/prometheus", a.metrics.Handler())
	kmux.Handle("GET /metrics", a.metrics.Handler())
	kratosAdmin := api.WithAPIKey(a.cfg.Serve.Admin.APIKey, a.kratos.Errors().Unauthorized())(kratos.AdminPrefix(api.RecordRoute(kmux)))
	if a.hanko == nil {
		return a.middleware(kratosAdmin, api.CORS{}, "admin", nil)
	}
	hmux := http.NewServeMux()
	a.hanko.MountAdmin(hmux)
	routedHanko := api.RecordRoute(hmux)
	both := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := hmux.Handler(r); pattern != "" {
			routedHanko.ServeHTTP(w, r)
			return
		}
		kratosAdmin.ServeHTTP(w, r)
	})
	return a.middleware(both, api.CORS{}, "admin", nil)
}

// mergeCORS combines two faces' policies on one listener: a request from an
// origin either face allows is allowed, with the union of their headers.
func mergeCORS(a, b api.CORS) api.CORS {
	if !b.Enabled {
		return a
	}
	if !a.Enabled {
		return b
	}
	union := func(x, y []string) []string {
		seen := map[string]bool{}
		var out []string
		for _, v := range append(append([]string{}, x...), y...) {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		return out
	}
	return api.CORS{
		Enabled:          true,
		AllowedOrigins:   union(a.AllowedOrigins, b.AllowedOrigins),
		AllowedMethods:   union(a.AllowedMethods, b.AllowedMethods),
		AllowedHeaders:   union(a.AllowedHeaders, b.AllowedHeaders),
		ExposedHeaders:   union(a.ExposedHeaders, b.ExposedHeaders),
		AllowCredentials: a.AllowCredentials || b.AllowCredentials,
		MaxAge:           max(a.MaxAge, b.MaxAge),
	}
}

// policyConfig is the attempt policy of ratelimit.attempts and
// ratelimit.send (config.Load validated it).
func policyConfig(c config.RateLimit) ratelimit.PolicyConfig {
	lim := func(l config.Limit) ratelimit.Limit { return ratelimit.Limit{Limit: l.Limit, Window: l.Window} }
	p := ratelimit.PolicyConfig{
		IdentityIP:  lim(c.Attempts.IdentityIP),
		IP:          lim(c.Attempts.IP),
		KnownIPFor:  c.Attempts.KnownIPFor,
		SendAddress: lim(c.Send.Address),
		SendIP:      lim(c.Send.IP),
	}
	for _, l := range c.Attempts.Identity {
		p.Identity = append(p.Identity, lim(l))
	}
	return p
}

// newLimiter builds the rate limiter of ratelimit.backend: counters in the
// database (shared by every replica on it), in Redis, or in this process.
func newLimiter(c config.RateLimit, db store.Store, secret []byte) (ratelimit.Limiter, error) {
	switch c.Backend {
	case "redis":
		opts, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("ratelimit.redis_url: %w", err)
		}
		return ratelimit.NewRedis(redis.NewClient(opts), secret), nil
	case "memory":
		return ratelimit.NewLocal(time.Now, secret), nil
	default:
		return ratelimit.NewDB(db, time.Now, secret), nil
	}
}

// startBackground starts the work that runs beside the listeners: the
// session cache's change-log poller, the courier worker, the web-hook
// worker and the clean-up sweeper.
func (a *app) startBackground(ctx context.Context, wg *sync.WaitGroup, runCourier bool) error {
	if a.sessionCache != nil {
		wg.Go(func() { _ = a.sessionCache.Run(ctx) })
	}
	if runCourier {
		w, err := a.newCourierWorker()
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := w.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("courier worker stopped", "error", err)
			}
		})
	}
	hankoHooks := a.hanko != nil && a.cfg.Hanko.Webhooks.Enabled
	if hankoHooks || a.webhooks != nil {
		// One worker delivers both faces' queued calls: Hanko's events and
		// Kratos' response.ignore web hooks share the delivery queue.
		wo := webhook.WorkerOptions{Store: a.db, Config: a.cfg.Hanko.Webhooks, Logger: a.log, Kratos: a.webhooks, Tracer: a.jobTracer(),
			OnFailure:       func(abandoned bool) { a.metrics.QueueFailure("webhook", abandoned) },
			OnKratosFailure: func(abandoned bool) { a.metrics.QueueFailure("kratos_web_hook", abandoned) }}
		if hankoHooks {
			wo.Signer = a.hanko
		}
		if a.tracing != nil {
			wo.Client = a.tracing.Client(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}})
		}
		ww, err := webhook.NewWorker(wo)
		if err != nil {
			return exitError{code: 1, msg: "Error: hanko.webhooks: " + err.Error()}
		}
		wg.Go(func() {
			if err := ww.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("webhook worker stopped", "error", err)
			}
		})
	}
	if a.cfg.Cleanup.Enabled {
		wg.Go(func() { sweeper(ctx, a.db, a.cfg.Cleanup, a.log) })
	}
	return nil
}

// jobTracer is what the queues use to carry a request's trace to the
// delivery of what it queued; nil with tracing off.
func (a *app) jobTracer() queue.Tracer {
	if a.tracing == nil {
		return nil
	}
	return a.tracing
}

// newCourierWorker builds the courier worker from the courier section.
func (a *app) newCourierWorker() (*courier.Worker, error) {
	var client *http.Client
	if a.tracing != nil {
		client = a.tracing.Client(&http.Client{Timeout: 10 * time.Second})
	}
	email, sms, err := courier.SendersFromConfig(a.cfg.Courier, a.cfg.Dev, a.log, client)
	if err != nil {
		return nil, exitError{code: 1, msg: "Error: courier: " + err.Error()}
	}
	email, sms = tracedSender(a.tracing, a.cfg.Courier.DeliveryStrategy, email), tracedSender(a.tracing, "http", sms)
	o := courier.WorkerOptionsFromConfig(a.cfg.Courier)
	o.Store, o.Email, o.SMS, o.Logger = a.db, email, sms, a.log
	o.OnFailure = func(abandoned bool) { a.metrics.QueueFailure("courier", abandoned) }
	o.Tracer = a.jobTracer()
	w, err := courier.NewWorker(o)
	if err != nil {
		return nil, exitError{code: 1, msg: "Error: courier: " + err.Error()}
	}
	return w, nil
}

func (a *app) close() {
	if a.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.tracing.Shutdown(ctx); err != nil {
			a.log.Error("flush traces", "error", err)
		}
		cancel()
	}
	if err := a.db.Close(); err != nil {
		a.log.Error("close database", "error", err)
	}
}

// observe registers the database's metrics and, when the OTEL_*
// environment asks for it, starts tracing (spans per request, SQL statement
// and outbound web-hook call).
func (a *app) observe(ctx context.Context) error {
	// One line when the database stops answering and one when it is back,
	// however many requests are answered 503 meanwhile.
	a.db.OnAvailability(func(up bool, cause error, downFor time.Duration) {
		if up {
			a.log.Info("database reachable again; serving", "down_for", downFor.Round(time.Millisecond).String())
			return
		}
		a.log.Error("database unreachable; answering 503 with Retry-After until it returns", "error", cause)
	})
	read, write := a.db.Handles()
	a.metrics.DBPool("write", write)
	if read != write {
		a.metrics.DBPool("read", read)
	}
	a.metrics.QueueDepth(func(ctx context.Context) (int, int, error) {
		d, err := a.db.QueueDepth(ctx)
		return d.Messages, d.Deliveries, err
	})
	on, err := observe.TracingEnabled(os.Getenv)
	if err != nil || !on {
		return err
	}
	scheme, _, _ := strings.Cut(a.cfg.DSN, "://")
	system := map[string]string{"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql"}[strings.ToLower(scheme)]
	if system == "" {
		system = "sqlite"
	}
	if a.tracing, err = observe.NewTracingFromEnv(ctx, currentBuild().Version, system); err != nil {
		return err
	}
	a.db.Trace(a.tracing)
	a.log.Info("tracing: exporting spans over OTLP/HTTP as the OTEL_* environment says")
	return nil
}

// verifyCacheSize maps session.jwt.verify_cache_size (0 is off) to
// session.KeysOptions.VerifyCacheSize (negative is off).
func verifyCacheSize(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// tokenizerEvaluator hands a nil *jsonnet.Evaluator on as a nil interface.
func tokenizerEvaluator(ev *jsonnet.Evaluator) session.Evaluator {
	if ev == nil {
		return nil
	}
	return ev
}

// tracedSender wraps a courier sender (nil stays nil) so that each delivery
// is a client span named "courier.send <kind>" (smtp or http) that the HTTP
// sender's request span, if any, is a child of. With tracing off it returns
// s itself.
func tracedSender(t *observe.Tracing, kind string, s courier.Sender) courier.Sender {
	if t == nil || s == nil {
		return s
	}
	if _, ok := s.(*courier.LogSender); ok {
		return s
	}
	return spanSender{t: t, kind: kind, next: s}
}

type spanSender struct {
	t    *observe.Tracing
	kind string
	next courier.Sender
}

func (s spanSender) Send(ctx context.Context, m *core.Message) error {
	ctx, end := s.t.StartClient(ctx, "courier.send "+s.kind, "courier.channel", string(m.Channel), "courier.message_id", m.ID)
	err := s.next.Send(ctx, m)
	end(err)
	return err
}

// loggedBreaches logs the breach look-ups that fail (the user sees the
// password accepted, or refused as unchecked, not why).
type loggedBreaches struct {
	c      password.BreachCounter
	log    *slog.Logger
	ignore bool
}

func (l loggedBreaches) Breaches(ctx context.Context, pw string) (int64, error) {
	n, err := l.c.Breaches(ctx, pw)
	if err != nil {
		l.log.WarnContext(ctx, "Have I Been Pwned look-up failed", "error", err,
			"password_accepted", l.ignore, "key", "selfservice.methods.password.config.ignore_network_errors")
	}
	return n, err
}
