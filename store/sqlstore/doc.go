// Package sqlstore implements store.Store once, in hand-written SQL over
// database/sql and sqlx, for every SQL database Latchkey supports. What
// differs between SQLite, PostgreSQL and MySQL (placeholders, upserts, row
// locks, time and JSON representation, how a unique violation or a
// serialisation failure is reported) is described by a Dialect, which the
// thin backend packages store/sqlite, store/postgres and store/mysql supply
// together with their connection handling and embedded migrations.
//
// All times are written and read in UTC, truncated to microseconds. Zero
// times and nil JSON documents are stored as NULL and read back as zero
// values.
package sqlstore
