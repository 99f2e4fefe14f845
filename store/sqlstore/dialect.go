package sqlstore

import (
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// Flavor names the SQL syntax family a database speaks.
type Flavor int

// The supported SQL flavours.
const (
	SQLite Flavor = iota + 1
	Postgres
	MySQL
)

// String returns the flavour's name.
func (f Flavor) String() string {
	switch f {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// Dialect describes one database: its SQL flavour and how its driver reports
// the errors the store must recognise. Backends fill it in.
type Dialect struct {
	Flavor Flavor
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation; the store maps it to store.ErrConflict.
	IsUniqueViolation func(err error) bool
	// IsRetryable reports whether err is a transient serialisation failure
	// or deadlock after which the whole transaction may be run again. May be
	// nil when the database never reports one (SQLite with one writer).
	IsRetryable func(err error) bool
	// IsUnavailable reports an engine-specific sign that the database
	// cannot be reached (besides the network errors every engine shares);
	// nil means none.
	IsUnavailable func(err error) bool
}

// sqliteTime is the fixed-width text form of times on SQLite, which sorts
// and compares correctly as text.
const sqliteTime = "2006-01-02 15:04:05.000000"

// bindType returns sqlx's placeholder style for the flavour.
func (d *Dialect) bindType() int {
	if d.Flavor == Postgres {
		return sqlx.DOLLAR
	}
	return sqlx.QUESTION
}

// gooseDialect returns goose's name for the flavour.
func (d *Dialect) gooseDialect() goose.Dialect {
	switch d.Flavor {
	case Postgres:
		return goose.DialectPostgres
	case MySQL:
		return goose.DialectMySQL
	}
	return goose.DialectSQLite3
}

// normTime returns t in UTC truncated to what every database stores.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// timeArg converts t to a query argument: NULL for the zero time, a
// fixed-width string on SQLite, a UTC time.Time elsewhere.
func (d *Dialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	if d.Flavor == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// timePtrArg is timeArg for optional times.
func (d *Dialect) timePtrArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// lockSuffix is appended to a SELECT that claims rows for this transaction.
func (d *Dialect) lockSuffix() string {
	if d.Flavor == SQLite {
		return "" // one writer: the write transaction already excludes others
	}
	return " FOR UPDATE SKIP LOCKED"
}

// prefixCond returns a condition matching column values that start with a
// prefix, with one placeholder, and the argument to bind to it. It is case
// sensitive on every database.
func (d *Dialect) prefixCond(column, prefix string) (string, any) {
	if d.Flavor == SQLite {
		// GLOB is case sensitive (LIKE is not on SQLite); escape its
		// metacharacters by putting them in brackets.
		r := strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]")
		return column + " GLOB ?", r.Replace(prefix) + "*"
	}
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return column + " LIKE ? ESCAPE '!'", r.Replace(prefix) + "%"
}

// maxLimit stands in for "no limit" where a LIMIT clause is syntactically
// required (an OFFSET alone is not accepted by SQLite and MySQL).
const maxLimit = "9223372036854775807"

// limitOffset renders LIMIT and OFFSET for the given values; zero means none.
func limitOffset(limit, offset int) string {
	var b strings.Builder
	switch {
	case limit > 0:
		b.WriteString(" LIMIT ")
		b.WriteString(itoa(limit))
	case offset > 0:
		b.WriteString(" LIMIT " + maxLimit)
	}
	if offset > 0 {
		b.WriteString(" OFFSET ")
		b.WriteString(itoa(offset))
	}
	return b.String()
}
