package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/latchkey/latchkey/store"
)

// Config is what a backend hands to New.
type Config struct {
	Dialect Dialect
	// Write is the handle transactions and writes run on. On SQLite it must
	// be limited to one open connection.
	Write *sql.DB
	// Read is the handle plain reads run on; nil means Write.
	Read *sql.DB
	// Migrations holds the backend's goose .sql files at its root.
	Migrations fs.FS
	// MigrationOptions are passed to goose.NewProvider (for example a
	// session locker, so that replicas do not migrate concurrently).
	MigrationOptions []goose.ProviderOption
	// MaxAttempts bounds how often a transaction is run when it fails with
	// a retryable error; 0 means 5.
	MaxAttempts int
	// Pool, when not zero, is applied to Write (server databases; SQLite
	// sizes its own handles).
	Pool Pool
	// StatementCache bounds the prepared statements kept per handle on
	// SQLite (each is prepared on every connection of the handle that runs
	// it); 0 means DefaultStatementCache, negative keeps none.
	StatementCache int
}

// Store implements store.Store over SQL. It is safe for concurrent use.
type Store struct {
	ops                  // plain reads, on the read handle
	read, write *sqlx.DB // write may equal read
	// readStmts and writeStmts cache prepared statements on SQLite (nil
	// elsewhere: pgx caches statements per connection itself).
	readStmts, writeStmts *stmtCache
	d                     *Dialect // shared with every ops
	migrations            fs.FS    // goose sources
	migrateOpts           []goose.ProviderOption
	maxAttempts           int
	pool                  Pool
	tracer                QueryTracer // nil: no spans
	avail                 *availability
	onChange              func([]store.SessionChange) // nil: nobody listens
}

// QueryTracer starts a span for one SQL statement; the returned function
// ends it with the statement's error. The query text is the parameterised
// statement (never its arguments).
type QueryTracer interface {
	StartQuery(ctx context.Context, query string) (context.Context, func(error))
}

// TxTracer is a QueryTracer that also hears of every write transaction the
// store begins (Update, and each write of its own), for tests that count
// them.
type TxTracer interface {
	QueryTracer
	BeginTx(ctx context.Context)
}

// Trace makes every statement of the store report to t (nil stops it), and
// every write transaction when t is a TxTracer. Call it before the store is
// used.
func (s *Store) Trace(t QueryTracer) {
	s.tracer = t
	s.ops.tracer = t
}

// Handles returns the database handles (the same one twice when reads and
// writes share it), for pool statistics.
func (s *Store) Handles() (read, write *sql.DB) { return s.read.DB, s.write.DB }

var _ store.Store = (*Store)(nil)

// New returns a Store over the handles in c. It does not connect, ping or
// migrate; it fails only when c is incomplete.
func New(c Config) (*Store, error) {
	if c.Write == nil {
		return nil, errors.New("sqlstore: no write handle")
	}
	if c.Dialect.Flavor < SQLite || c.Dialect.Flavor > MySQL {
		return nil, errors.New("sqlstore: unknown dialect flavour")
	}
	if c.Dialect.IsUniqueViolation == nil {
		return nil, errors.New("sqlstore: dialect has no unique violation check")
	}
	d := c.Dialect
	s := &Store{
		d:           &d,
		migrations:  c.Migrations,
		migrateOpts: c.MigrationOptions,
		maxAttempts: c.MaxAttempts,
		pool:        c.Pool,
	}
	if c.Pool != (Pool{}) {
		c.Write.SetMaxOpenConns(c.Pool.MaxOpen)
		c.Write.SetMaxIdleConns(c.Pool.MaxIdle)
		c.Write.SetConnMaxLifetime(c.Pool.MaxLifetime)
		c.Write.SetConnMaxIdleTime(c.Pool.MaxIdleTime)
	}
	driver := d.Flavor.String()
	s.write = sqlx.NewDb(c.Write, driver)
	s.read = s.write
	if c.Read != nil && c.Read != c.Write {
		s.read = sqlx.NewDb(c.Read, driver)
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 5
	}
	n := c.StatementCache
	if n == 0 {
		n = DefaultStatementCache
	}
	if d.Flavor == SQLite && n > 0 {
		s.writeStmts = newStmtCache(s.write.DB, n)
		s.readStmts = s.writeStmts
		if s.read != s.write {
			s.readStmts = newStmtCache(s.read.DB, n)
		}
	}
	s.avail = &availability{}
	s.ops = ops{q: s.read, d: s.d, stmts: s.readStmts, avail: s.avail}
	return s, nil
}

// Pool returns the pool settings applied to the write handle (zero on
// SQLite).
func (s *Store) Pool() Pool { return s.pool }

// Stats returns the write handle's database/sql statistics.
func (s *Store) Stats() sql.DBStats { return s.write.Stats() }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return *s.d }

// Update implements store.Store: fn runs in one transaction on the write
// handle and is run again, up to the configured number of attempts, when
// the database reports a serialisation failure or deadlock. It returns fn's
// error (after rolling back) or the error of beginning or committing.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.inTx(ctx, func(o *ops) error { return fn(o) })
}

// inTx runs fn in a write transaction with retries.
func (s *Store) inTx(ctx context.Context, fn func(o *ops) error) error {
	return s.inTxOpts(ctx, nil, fn)
}

// inTxOpts is inTx with the transaction options opts (nil: the defaults).
func (s *Store) inTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(o *ops) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, opts, fn)
		if err == nil || attempt >= s.maxAttempts || s.d.IsRetryable == nil || !s.d.IsRetryable(err) {
			return err
		}
		// Jittered linear back-off; the jitter only spreads contenders, so
		// math/rand is fine.
		wait := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *Store) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(o *ops) error) (err error) {
	if s.writeStmts != nil {
		// After the transaction has released the connection.
		defer s.writeStmts.prepareMissing(ctx)
	}
	if t, ok := s.tracer.(TxTracer); ok {
		t.BeginTx(ctx)
	}
	tx, err := s.write.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", s.avail.check(s.d, err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	var changes []store.SessionChange
	if err := fn(&ops{q: tx, d: s.d, inTx: true, stmts: s.writeStmts, tx: tx.Tx, tracer: s.tracer, avail: s.avail, changes: &changes}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", s.avail.check(s.d, err))
	}
	committed = true
	if len(changes) > 0 && s.onChange != nil {
		s.onChange(changes)
	}
	return nil
}

// Ping checks that both handles answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Flavor, s.avail.check(s.d, err))
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s read pool: %w", s.d.Flavor, s.avail.check(s.d, err))
		}
	}
	return nil
}

// Close closes both handles and returns the first error.
func (s *Store) Close() error {
	if s.readStmts != nil {
		s.readStmts.close()
	}
	if s.writeStmts != nil && s.writeStmts != s.readStmts {
		s.writeStmts.close()
	}
	var errs []error
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// provider builds a goose provider over the write handle.
func (s *Store) provider() (*goose.Provider, error) {
	if s.migrations == nil {
		return nil, errors.New("migrate: no migrations configured")
	}
	// Migration numbers are handed out to parallel branches, so a higher
	// number may land (and be applied) before a lower one: apply the lower
	// one later instead of refusing.
	opts := append([]goose.ProviderOption{goose.WithAllowOutofOrder(true)}, s.migrateOpts...)
	p, err := goose.NewProvider(s.d.gooseDialect(), s.write.DB, s.migrations, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrate: load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns how many it applied.
// Running it on an up-to-date database applies none and is not an error.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate %s: %w", s.d.Flavor, err)
	}
	return len(res), nil
}

// MigrationStatus lists every known migration and whether it is applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]store.MigrationStatus, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status %s: %w", s.d.Flavor, err)
	}
	out := make([]store.MigrationStatus, 0, len(st))
	for _, m := range st {
		ms := store.MigrationStatus{Applied: m.State == goose.StateApplied}
		if m.Source != nil {
			ms.Version = m.Source.Version
			ms.Name = path.Base(m.Source.Path)
		}
		if ms.Applied && !m.AppliedAt.IsZero() {
			ms.AppliedAt = m.AppliedAt.UTC()
		}
		out = append(out, ms)
	}
	return out, nil
}

// ops implements store.Tx over one sqlx handle: the read pool for a Store's
// plain reads, or a transaction.
type ops struct {
	q    sqlx.ExtContext
	d    *Dialect
	inTx bool // inside Update: reads of rows that may be written back lock them
	// stmts, when set, holds the handle's prepared statements: queries run
	// through them (inside a transaction through tx.StmtContext, which
	// reuses the statement already prepared on the transaction's
	// connection).
	stmts *stmtCache
	tx    *sql.Tx // the transaction q runs in, or nil
	// tracer, when set, gets a span per statement.
	tracer QueryTracer
	// avail follows whether the database answers (shared by the store).
	avail *availability
	// changes collects the session changes the transaction appended, for
	// the store's OnSessionChanges listener once it commits (nil outside a
	// transaction).
	changes *[]store.SessionChange
}

// forUpdate returns the row-lock clause for a read inside a transaction, so
// that a read-modify-write in Update (revoking or extending a session,
// patching an identity) cannot lose a concurrent writer's change on
// PostgreSQL or MySQL. SQLite transactions take the write lock at BEGIN
// IMMEDIATE, which already serialises them.
func (o *ops) forUpdate() string {
	if o.inTx && o.d.Flavor != SQLite {
		return " FOR UPDATE"
	}
	return ""
}

var _ store.Tx = (*ops)(nil)

func (o *ops) rebind(q string) string { return sqlx.Rebind(o.d.bindType(), q) }

// stmt returns the cached prepared statement for q, bound to the
// transaction when o runs in one, and the function that ends its use. ok
// is false when o caches no statements.
func (o *ops) stmt(ctx context.Context, q string) (st *sql.Stmt, release func(), ok bool, err error) {
	if o.stmts == nil {
		return nil, nil, false, nil
	}
	e, err := o.stmts.acquire(ctx, q, o.tx != nil)
	if err != nil {
		return nil, nil, true, err
	}
	if e == nil {
		return nil, nil, false, nil
	}
	st = e.st
	if o.tx != nil {
		// Closed with the transaction; the parent stays prepared on the
		// connection.
		st = o.tx.StmtContext(ctx, st)
	}
	return st, e.release, true, nil
}

// uninterrupted returns the context a statement of a SQLite transaction
// runs under: ctx without its cancellation. The SQLite driver starts a
// goroutine per statement whose context can be cancelled, to interrupt
// the statement when it is (12 of them per passkey login, with their
// channels and scheduling). A statement inside a transaction never waits:
// the transaction took its lock at BEGIN, which still runs under the
// caller's context (its busy wait stays interruptible), and WAL readers
// do not block. Only a statement's own work would be cut short, and a
// transaction's statements are short; its values (trace spans) stay.
// Outside a transaction, and on PostgreSQL and MySQL (lock waits, the
// network), ctx is returned as it is.
func (o *ops) uninterrupted(ctx context.Context) context.Context {
	if o.tx == nil || o.d.Flavor != SQLite || ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (o *ops) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	q = o.rebind(q)
	if o.tracer != nil {
		var end func(error)
		ctx, end = o.tracer.StartQuery(ctx, q)
		defer func() { end(err) }()
	}
	defer func() { err = o.avail.check(o.d, err) }()
	ctx = o.uninterrupted(ctx)
	st, release, ok, err := o.stmt(ctx, q)
	if !ok {
		return o.q.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	defer release()
	return st.ExecContext(ctx, args...)
}

func (o *ops) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	q = o.rebind(q)
	if o.tracer != nil {
		var end func(error)
		ctx, end = o.tracer.StartQuery(ctx, q)
		defer func() { end(err) }()
	}
	defer func() { err = o.avail.check(o.d, err) }()
	ctx = o.uninterrupted(ctx)
	st, release, ok, err := o.stmt(ctx, q)
	if !ok {
		return o.q.QueryContext(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	defer release()
	return st.QueryContext(ctx, args...)
}

// errRow is a row whose Scan reports the error that prevented the query.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (o *ops) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return checkedRow{o.rawQueryRow(ctx, q, args...), o}
}

// checkedRow reports a row's error to the availability tracker.
type checkedRow struct {
	row rowScanner
	o   *ops
}

func (r checkedRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err == sql.ErrNoRows {
		r.o.avail.check(r.o.d, nil)
		return err
	}
	return r.o.avail.check(r.o.d, err)
}

func (o *ops) rawQueryRow(ctx context.Context, q string, args ...any) rowScanner {
	q = o.rebind(q)
	if o.tracer != nil {
		var end func(error)
		ctx, end = o.tracer.StartQuery(ctx, q)
		defer end(nil)
	}
	ctx = o.uninterrupted(ctx)
	st, release, ok, err := o.stmt(ctx, q)
	if !ok {
		return o.q.QueryRowxContext(ctx, q, args...)
	}
	if err != nil {
		return errRow{err}
	}
	defer release()
	return st.QueryRowContext(ctx, args...)
}

// execAffected runs q and returns the number of rows it matched.
func (o *ops) execAffected(ctx context.Context, q string, args ...any) (int, error) {
	res, err := o.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return int(n), nil
}

// wrap turns a unique violation into store.ErrConflict (keeping the driver
// error in the chain for the log) and sql.ErrNoRows into store.ErrNotFound.
func (o *ops) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case o.d.IsUniqueViolation(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// where joins conditions with AND, or returns "" when there are none.
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
