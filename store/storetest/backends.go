package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/mysql"
	"github.com/latchkey/latchkey/store/postgres"
	"github.com/latchkey/latchkey/store/sqlite"
)

// The environment variables naming the server databases tests may use.
const (
	PostgresEnv = "LATCHKEY_TEST_POSTGRES_DSN"
	MySQLEnv    = "LATCHKEY_TEST_MYSQL_DSN"
)

// setupTimeout bounds connecting to and migrating a test database.
const setupTimeout = 30 * time.Second

// SQLite returns a migrated store on a fresh SQLite file in t's temporary
// directory, closed when t ends. It fails t on any error.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate sqlite: %v", err)
	}
	return s
}

// Postgres returns a migrated store on a fresh, randomly named database
// created on the server named by LATCHKEY_TEST_POSTGRES_DSN, dropped when t
// ends. It skips t when the variable is unset (fails it when CI is set) and
// fails t when the server cannot be reached.
func Postgres(t testing.TB) store.Store {
	t.Helper()
	dbDSN := PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := postgres.Open(ctx, dbDSN)
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the drop
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate postgres: %v", err)
	}
	return s
}

// PostgresDSN creates a fresh, empty, randomly named database on the server
// named by LATCHKEY_TEST_POSTGRES_DSN and returns its DSN; the database is
// dropped when t ends. It skips and fails like Postgres.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := dsnFromEnv(t, PostgresEnv)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("storetest: %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("storetest: cannot reach the PostgreSQL server of %s: %v", PostgresEnv, err)
	}
	name := randomName()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("storetest: create postgres database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Errorf("storetest: drop postgres database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("storetest: drop postgres database %s: %v", name, err)
		}
	})
	dbDSN, err := DSNForDatabase(dsn, name)
	if err != nil {
		t.Fatalf("storetest: %s: %v", PostgresEnv, err)
	}
	return dbDSN
}

// MySQL returns a migrated store on a fresh, randomly named database created
// on the server named by LATCHKEY_TEST_MYSQL_DSN, dropped when t ends. It
// skips t when the variable is unset (fails it when CI is set) and fails t
// when the server cannot be reached.
func MySQL(t testing.TB) store.Store {
	t.Helper()
	dbDSN := MySQLDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := mysql.Open(ctx, dbDSN)
	if err != nil {
		t.Fatalf("storetest: open mysql: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the drop
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate mysql: %v", err)
	}
	return s
}

// MySQLDSN creates a fresh, empty, randomly named database on the server
// named by LATCHKEY_TEST_MYSQL_DSN and returns its DSN in Kratos' mysql://
// form; the database is dropped when t ends. It skips and fails like MySQL.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	dsn := dsnFromEnv(t, MySQLEnv)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("storetest: %s: %v", MySQLEnv, err)
	}
	cfg.DBName = ""
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		t.Fatalf("storetest: %s: %v", MySQLEnv, err)
	}
	admin := sql.OpenDB(conn)
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("storetest: cannot reach the MySQL server of %s: %v", MySQLEnv, err)
	}
	name := randomName()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`); err != nil {
		admin.Close()
		t.Fatalf("storetest: create mysql database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name); err != nil {
			t.Errorf("storetest: drop mysql database %s: %v", name, err)
		}
	})
	dbDSN, err := DSNForDatabase(dsn, name)
	if err != nil {
		t.Fatalf("storetest: %s: %v", MySQLEnv, err)
	}
	return dbDSN
}

// Backends returns the store constructors the environment configures, by
// name: "sqlite" always, "postgres" and "mysql" when their DSN variable is
// set. When CI is set, a missing variable fails t instead.
func Backends(t testing.TB) map[string]func(testing.TB) store.Store {
	t.Helper()
	b := map[string]func(testing.TB) store.Store{"sqlite": SQLite}
	for name, env := range map[string]string{"postgres": PostgresEnv, "mysql": MySQLEnv} {
		if os.Getenv(env) == "" {
			if os.Getenv("CI") != "" {
				t.Fatalf("storetest: %s is not set; CI must test every backend", env)
			}
			t.Logf("storetest: %s not set, %s backend skipped", env, name)
			continue
		}
		switch name {
		case "postgres":
			b[name] = Postgres
		case "mysql":
			b[name] = MySQL
		}
	}
	return b
}

// dsnFromEnv returns the DSN in env, or skips t (fails it under CI).
func dsnFromEnv(t testing.TB, env string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("storetest: %s is not set; CI must test every backend", env)
		}
		t.Skipf("storetest: %s not set", env)
	}
	return dsn
}

// DSNForDatabase returns dsn (a PostgreSQL URL or a MySQL DSN in Kratos'
// mysql:// form) pointed at database name instead of its own. It fails on
// DSNs of other kinds and on malformed ones.
func DSNForDatabase(dsn, name string) (string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("postgres dsn: not a valid URL")
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	case strings.HasPrefix(dsn, "mysql://"):
		cfg, err := driver.ParseDSN(strings.TrimPrefix(dsn, "mysql://"))
		if err != nil {
			return "", fmt.Errorf("mysql dsn: %w", err)
		}
		cfg.DBName = name
		return "mysql://" + cfg.FormatDSN(), nil
	}
	return "", errors.New("dsn: neither postgres:// nor mysql://")
}

// randomName returns a fresh database name.
func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails
	return "latchkey_test_" + hex.EncodeToString(b)
}
