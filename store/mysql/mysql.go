package mysql

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/latchkey/latchkey/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded MySQL migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// MySQL error numbers the store recognises.
const (
	errDupEntry        = 1062
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
)

// Dialect describes MySQL and MariaDB to sqlstore.
var Dialect = sqlstore.Dialect{
	Flavor:            sqlstore.MySQL,
	IsUniqueViolation: func(err error) bool { return errNumber(err) == errDupEntry },
	IsUnavailable: func(err error) bool {
		if errors.Is(err, driver.ErrInvalidConn) {
			return true
		}
		switch errNumber(err) {
		case 1040, 1053, 1077, 1152, 2002, 2003, 2006, 2013: // too many connections, shutdown, lost connection
			return true
		}
		return false
	},
	IsRetryable: func(err error) bool {
		n := errNumber(err)
		return n == errDeadlock || n == errLockWaitTimeout
	},
}

func errNumber(err error) uint16 {
	var e *driver.MySQLError
	if errors.As(err, &e) {
		return e.Number
	}
	return 0
}

// ParseDSN parses a DSN in Kratos' form
// mysql://user:password@tcp(host:port)/db?parseTime=true (the mysql://
// prefix is optional) and returns the driver config with what the store
// needs forced on: parseTime, UTC times and found-rows counting. Errors never
// contain the password.
func ParseDSN(dsn string) (*driver.Config, error) {
	rest := strings.TrimPrefix(dsn, "mysql://")
	cfg, err := driver.ParseDSN(rest)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("mysql dsn: no database name (mysql://user:password@tcp(host:port)/db)")
	}
	q := url.Values{}
	for k, v := range cfg.Params {
		q.Set(k, v)
	}
	if _, err := sqlstore.TakePool(q); err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	for _, k := range poolParams {
		delete(cfg.Params, k) // the server would refuse them as unknown system variables
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// Session time zone UTC, so NOW()-style defaults agree with ours.
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}

// poolParams are Kratos' pool parameters, which ParseDSN removes.
var poolParams = []string{sqlstore.ParamMaxConns, sqlstore.ParamMaxIdleConns, sqlstore.ParamMaxConnLifetime, sqlstore.ParamMaxConnIdleTime}

// poolOf returns the pool Kratos' pool parameters in dsn set (see
// sqlstore.TakePool).
func poolOf(dsn string) (sqlstore.Pool, error) {
	cfg, err := driver.ParseDSN(strings.TrimPrefix(dsn, "mysql://"))
	if err != nil {
		return sqlstore.Pool{}, fmt.Errorf("mysql dsn: %w", err)
	}
	q := url.Values{}
	for k, v := range cfg.Params {
		q.Set(k, v)
	}
	pool, err := sqlstore.TakePool(q)
	if err != nil {
		return sqlstore.Pool{}, fmt.Errorf("mysql dsn: %w", err)
	}
	return pool, nil
}

// Open connects to the MySQL or MariaDB database named by dsn (see
// ParseDSN) and pings it. Kratos' pool parameters in the DSN size the
// connection pool (sqlstore.TakePool). It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	pool, err := poolOf(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("mysql database %q on %s", cfg.DBName, cfg.Addr)
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	db := sql.OpenDB(conn)
	s, err := sqlstore.New(sqlstore.Config{
		Dialect:    Dialect,
		Write:      db,
		Migrations: Migrations(),
		Pool:       pool,
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
