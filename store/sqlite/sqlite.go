package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"slices"
	"strings"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded SQLite migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// Dialect describes SQLite to sqlstore.
var Dialect = sqlstore.Dialect{
	Flavor:            sqlstore.SQLite,
	IsUniqueViolation: isUniqueViolation,
}

func isUniqueViolation(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// memory is the DSN path of an in-memory database.
const memory = ":memory:"

// The pragmas every connection gets, and those only the writer gets.
var (
	commonParams = []string{"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)"}
	writeParams  = []string{"_txlock=immediate", "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)"}
	readParams   = []string{"_pragma=query_only(1)"}
)

// ParseDSN splits a Latchkey SQLite DSN into the database path and the
// driver query parameters given with it. Accepted forms are
// sqlite://relative/path.db, sqlite:///absolute/path.db and
// sqlite://:memory:, each optionally followed by ?driver=params.
func ParseDSN(dsn string) (path string, params url.Values, err error) {
	rest, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		rest, ok = strings.CutPrefix(dsn, "sqlite3://")
	}
	if !ok {
		return "", nil, errors.New("sqlite dsn: must start with sqlite://")
	}
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", nil, errors.New("sqlite dsn: no database path (use sqlite://file.db, sqlite:///abs/file.db or sqlite://:memory:)")
	}
	params, err = url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite dsn: bad query parameters: %w", err)
	}
	return path, params, nil
}

// driverDSN builds the modernc DSN for path with the user's parameters and
// ours appended.
func driverDSN(path string, user url.Values, ours ...[]string) string {
	parts := []string{}
	if enc := user.Encode(); enc != "" {
		parts = append(parts, enc)
	}
	for _, o := range ours {
		parts = append(parts, o...)
	}
	return path + "?" + strings.Join(parts, "&")
}

// Options bound the memory an SQLite store holds. Zero fields take the
// defaults.
type Options struct {
	// CacheSize is each connection's page cache in bytes (SQLite's
	// cache_size); default DefaultCacheSize. A cache_size pragma in the
	// DSN wins.
	CacheSize int64
	// ReadConnections is the size of the read-only pool; default
	// DefaultReadConnections.
	ReadConnections int
	// StatementCache bounds the prepared statements kept per handle
	// (sqlstore.Config.StatementCache); negative keeps none.
	StatementCache int
}

// DefaultCacheSize is a connection's page cache unless Options says
// otherwise: 512 KiB, a quarter of SQLite's own default, since a file
// database has one writer and several readers, each with its own cache,
// modernc's allocator rounds each cached 4 KiB page (with SQLite's header)
// up to 8 KiB, and the operating system caches the file too.
const DefaultCacheSize = 512 << 10

// DefaultReadConnections is the size of the read-only pool unless Options
// says otherwise: one per CPU (GOMAXPROCS), at least 2. SQLite reads are
// CPU work in this process, so readers beyond the CPUs only queue in SQLite
// instead of in database/sql, while each holds its own page cache, schema
// and prepared statements (it was at least 4: on 2 CPUs two of them were
// memory and no throughput).
func DefaultReadConnections() int { return max(2, runtime.GOMAXPROCS(0)) }

// Open is OpenWith with the default Options.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith connects to the SQLite database named by dsn (see ParseDSN),
// creating the file when it does not exist, and pings it. It does not
// migrate: call Migrate. A file database gets a one-connection write pool
// and a read-only read pool; an in-memory database lives on one connection
// for as long as the Store is open.
func OpenWith(ctx context.Context, dsn string, o Options) (*sqlstore.Store, error) {
	path, params, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	common := commonParams
	if !hasPragma(params, "cache_size") {
		common = append(slices.Clone(commonParams), fmt.Sprintf("_pragma=cache_size(-%d)", max(1, o.CacheSize/1024)))
	}
	if path == memory {
		db, err := sql.Open("sqlite", driverDSN(memory, params, common))
		if err != nil {
			return nil, fmt.Errorf("open sqlite in-memory database: %w", err)
		}
		oneConn(db)
		return finish(ctx, path, db, nil, o)
	}
	write, err := sql.Open("sqlite", driverDSN(path, params, common, writeParams))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	oneConn(write)
	// Connect the writer first: it switches the file to WAL before any
	// reader opens it.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", driverDSN(path, params, common, readParams))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	n := o.ReadConnections
	if n <= 0 {
		n = DefaultReadConnections()
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return finish(ctx, path, write, read, o)
}

// hasPragma reports whether the DSN parameters set the pragma name.
func hasPragma(params url.Values, name string) bool {
	for _, v := range params["_pragma"] {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), name) {
			return true
		}
	}
	return false
}

// oneConn limits db to a single connection that is never closed while the
// pool is open.
func oneConn(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

func finish(ctx context.Context, path string, write, read *sql.DB, o Options) (*sqlstore.Store, error) {
	s, err := sqlstore.New(sqlstore.Config{
		Dialect:        Dialect,
		Write:          write,
		Read:           read,
		Migrations:     Migrations(),
		StatementCache: o.StatementCache,
	})
	if err != nil {
		write.Close()
		if read != nil {
			read.Close()
		}
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return s, nil
}
