package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/latchkey/latchkey/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded PostgreSQL migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// SQLSTATE codes the store recognises.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// Dialect describes PostgreSQL to sqlstore.
var Dialect = sqlstore.Dialect{
	Flavor:            sqlstore.Postgres,
	IsUniqueViolation: func(err error) bool { return sqlState(err) == uniqueViolation },
	IsRetryable: func(err error) bool {
		c := sqlState(err)
		return c == serializationFailure || c == deadlockDetected
	},
	IsUnavailable: func(err error) bool {
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			return true
		}
		// Class 08 (connection exception), 57P01-03 (the server shuts
		// down or does not accept connections yet), 53300 (too many
		// connections).
		c := sqlState(err)
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	},
}

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ParseDSN checks a PostgreSQL DSN of the form
// postgres://user:password@host:port/db?sslmode=disable (or postgresql://)
// and returns the pgx connection config. Errors never contain the password.
func ParseDSN(dsn string) (*pgconn.Config, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, errors.New("postgres dsn: must start with postgres:// or postgresql://")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("postgres dsn: not a valid URL")
	}
	if strings.TrimPrefix(u.Path, "/") == "" {
		return nil, errors.New("postgres dsn: no database name in the path")
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	return cfg, nil
}

// splitPool removes Kratos' pool parameters (max_conns, max_idle_conns,
// max_conn_lifetime, max_conn_idle_time) from dsn, which PostgreSQL would
// refuse as unknown run-time parameters, and returns the pool they set.
func splitPool(dsn string) (string, sqlstore.Pool, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", sqlstore.Pool{}, errors.New("postgres dsn: not a valid URL")
	}
	q := u.Query()
	pool, err := sqlstore.TakePool(q)
	if err != nil {
		return "", sqlstore.Pool{}, fmt.Errorf("postgres dsn: %w", err)
	}
	u.RawQuery = q.Encode()
	return u.String(), pool, nil
}

// Open connects to the PostgreSQL database named by dsn (see ParseDSN) and
// pings it. Kratos' pool parameters in the DSN size the connection pool
// (sqlstore.TakePool; sqlstore.DefaultPool without them). It does not
// migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	if _, err := ParseDSN(dsn); err != nil {
		return nil, err
	}
	dsn, pool, err := splitPool(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("postgres database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: migration lock: %w", where, err)
	}
	s, err := sqlstore.New(sqlstore.Config{
		Dialect:          Dialect,
		Write:            db,
		Migrations:       Migrations(),
		MigrationOptions: []goose.ProviderOption{goose.WithSessionLocker(locker)},
		Pool:             pool,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	return s, nil
}

// The pgx driver must be registered for sql.Open("pgx", …).
var _ = stdlib.GetDefaultDriver
