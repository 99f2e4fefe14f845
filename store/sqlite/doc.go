// Package sqlite is Latchkey's embedded storage backend: store.Store on a
// SQLite file through the pure-Go modernc.org/sqlite driver, in WAL mode.
//
// Writes go through a pool of exactly one connection whose transactions
// begin IMMEDIATE, so concurrent writers queue in Go instead of failing
// with "database is locked"; reads use a separate read-only pool and, thanks
// to WAL, never wait for the writer.
package sqlite
