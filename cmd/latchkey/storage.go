package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/mysql"
	"github.com/latchkey/latchkey/store/postgres"
	"github.com/latchkey/latchkey/store/sqlite"
	"github.com/latchkey/latchkey/store/sqlstore"
)

// backend is a store that can also migrate its own schema.
type backend interface {
	store.Store
	store.Maintenance
	store.SessionChangeLog
	// Handles returns the database pools (for their statistics).
	Handles() (read, write *sql.DB)
	// Trace reports every SQL statement to t.
	Trace(t sqlstore.QueryTracer)
	// OnAvailability reports the start and end of a database outage.
	OnAvailability(fn func(up bool, cause error, downFor time.Duration))
	Migrate(ctx context.Context) (applied int, err error)
	MigrationStatus(ctx context.Context) ([]store.MigrationStatus, error)
}

// openBackend picks the storage engine from the DSN's scheme, with the
// default SQLite memory bounds.
func openBackend(ctx context.Context, dsn string) (backend, error) {
	return openBackendWith(ctx, dsn, sqlite.Options{})
}

// sqliteOptions maps the sqlite section of the configuration.
func sqliteOptions(c config.SQLite) sqlite.Options {
	o := sqlite.Options{CacheSize: int64(c.CacheSize), ReadConnections: c.ReadConnections, StatementCache: c.StatementCache}
	if c.StatementCache == 0 {
		o.StatementCache = -1 // 0 in the configuration keeps none
	}
	return o
}

// openBackendWith is openBackend with SQLite's memory bounds o.
func openBackendWith(ctx context.Context, dsn string, o sqlite.Options) (backend, error) {
	if dsn == "memory" {
		// Kratos' dsn: memory, an in-memory database for this process.
		dsn = "sqlite://:memory:"
	}
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, fmt.Errorf("the DSN %q has no scheme; use sqlite://FILE, sqlite://:memory:, postgres://USER@HOST:PORT/DB or mysql://USER:PASSWORD@tcp(HOST:PORT)/DB", redactDSN(dsn))
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3", "file":
		return sqlite.OpenWith(ctx, dsn, o)
	case "postgres", "postgresql":
		return postgres.Open(ctx, dsn)
	case "mysql":
		return mysql.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("the DSN scheme %q is not supported; use sqlite://, postgres:// or mysql://", scheme)
}

// redactDSN hides a password in a DSN so it can be shown in messages.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return "(unparseable DSN)"
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return dsn
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return dsn
	}
	return scheme + "://" + user + ":***" + rest[at:]
}
