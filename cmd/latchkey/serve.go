package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
)

func newServeCmd() *cobra.Command {
	var (
		file      string
		dev       bool
		dsn       string
		noMigrate bool
		noCourier bool
		// Kratos' serve flags, so its command lines run as they are.
		watchCourier, sqaOptOut bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the public and admin HTTP listeners",
		Long: `Run Latchkey: the public listener (default 127.0.0.1:4433 in --dev) that
browsers and apps talk to, and the admin listener (default 127.0.0.1:4434)
that must never be exposed publicly. The courier worker runs inside unless
--no-courier is given.

--dev needs no config file and no other service: it uses sqlite://latchkey.db
in the working directory (or --dsn), migrates it, generates secrets (kept in
latchkey.dev-secrets.json beside the database so a restart keeps sessions and
keys), uses cheap password hashing and allows insecure cookies; browsers are
sent to the public listener as http://localhost:4433/ (a host name, which
passkeys need). Never use --dev in production.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watchCourier && noCourier {
				return exitError{code: 2, msg: "Error: --watch-courier runs the courier in this process and --no-courier does not; give one of them."}
			}
			return runServe(cmd.Context(), serveOptions{file: file, dev: dev, dsn: dsn, migrate: !noMigrate, courier: !noCourier})
		},
	}
	cmd.Flags().BoolVar(&watchCourier, "watch-courier", false, "Kratos' flag: run the courier in this process (Latchkey does so unless --no-courier)")
	cmd.Flags().BoolVar(&sqaOptOut, "sqa-opt-out", false, "Kratos' flag: opt out of usage statistics (Latchkey collects none)")
	cmd.Flags().BoolVar(&sqaOptOut, "disable-telemetry", false, "Kratos' flag: the same as --sqa-opt-out (Latchkey collects none)")
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (YAML); every key can also be set as LATCHKEY_<KEY>")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: no config needed, SQLite, generated secrets, insecure cookies")
	cmd.Flags().StringVar(&dsn, "dsn", "", "database DSN (overrides the config's dsn)")
	cmd.Flags().BoolVar(&noMigrate, "no-migrate", false, "do not apply pending migrations at start (they are applied by default in --dev and with dsn: memory only)")
	cmd.Flags().BoolVar(&noCourier, "no-courier", false, "do not run the courier worker in this process")
	return cmd
}

type serveOptions struct {
	file, dsn        string
	dev              bool
	migrate, courier bool
	// ready, when set, receives the bound addresses once both listeners
	// accept connections (tests use port 0).
	ready func(public, admin net.Addr)
	// logTo receives the log (tests); nil means standard error.
	logTo io.Writer
}

func runServe(ctx context.Context, o serveOptions) error {
	cfg, warnings, err := loadConfig(o.file, o.dev)
	if err != nil {
		return err
	}
	if o.dsn != "" {
		cfg.DSN = o.dsn
	}
	log := newLoggerTo(cfg.Log, o.logTo)
	logWarnings(log, warnings)

	// Bind both listeners first: a taken port stops the start before any
	// file, database or migration is created.
	publicLn, err := net.Listen("tcp", cfg.Serve.Public.Addr())
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("Error: cannot listen on %s (serve.public): %v; nothing was created or migrated", cfg.Serve.Public.Addr(), err)}
	}
	adminLn, err := net.Listen("tcp", cfg.Serve.Admin.Addr())
	if err != nil {
		publicLn.Close()
		return exitError{code: 1, msg: fmt.Sprintf("Error: cannot listen on %s (serve.admin): %v; nothing was created or migrated", cfg.Serve.Admin.Addr(), err)}
	}
	started := false
	defer func() {
		if !started {
			publicLn.Close()
			adminLn.Close()
		}
	}()

	if cfg.NeedsDevSecrets() {
		path, generated, err := loadDevSecrets(cfg)
		if err != nil {
			return exitError{code: 1, msg: "Error: " + err.Error()}
		}
		if generated {
			log.Warn("generated development secrets; never use --dev in production", "file", path)
		}
	}

	// An in-memory database (Kratos' dsn: memory) starts empty every time,
	// so it is migrated outside --dev too, as Kratos does.
	app, err := build(ctx, cfg, log, o.migrate && (o.dev || cfg.DSN == "memory"))
	if err != nil {
		return err
	}
	defer app.close()
	applyMemoryLimit(cfg.Runtime, os.Getenv, log)
	// Start-up (migrations, schema compilation, templates, flow
	// definitions) leaves garbage the running server never needs again:
	// hand it back to the OS before serving (and, once serving, the
	// executable's pages it touched).
	releaseStartupHeap()

	servers := []*http.Server{
		newHTTPServer(app.publicHandler(), log),
		newHTTPServer(app.adminHandler(), log),
	}
	listeners := []net.Listener{publicLn, adminLn}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	if err := app.startBackground(workCtx, &work, o.courier); err != nil {
		stopWork()
		return err
	}
	started = true

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	log.Info("latchkey is serving",
		"public", "http://"+publicLn.Addr().String(), "admin", "http://"+adminLn.Addr().String(),
		"dev", cfg.Dev, "version", currentBuild().Version)
	releaseStartupPages()
	if o.ready != nil {
		o.ready(publicLn.Addr(), adminLn.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
	case serveErr = <-errc:
		log.Error("listener failed", "error", serveErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error("shutdown", "error", err)
		}
	}
	stopWork()
	work.Wait()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return exitError{code: 1, msg: "Error: " + serveErr.Error()}
	}
	log.Info("stopped")
	return nil
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// listenerCORS converts the config's CORS section for the api middleware.
func listenerCORS(c config.CORS) api.CORS {
	return api.CORS{
		Enabled: c.Enabled, AllowedOrigins: c.AllowedOrigins, AllowedMethods: c.AllowedMethods,
		AllowedHeaders: c.AllowedHeaders, ExposedHeaders: c.ExposedHeaders,
		AllowCredentials: c.AllowCredentials, MaxAge: time.Duration(c.MaxAge) * time.Second,
	}
}
