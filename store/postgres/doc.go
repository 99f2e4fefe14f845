// Package postgres is Latchkey's PostgreSQL storage backend, for one or many
// replicas: store.Store through pgx (database/sql via pgx/v5/stdlib) on one
// connection pool. Migrations take a PostgreSQL advisory lock, so replicas
// starting together do not migrate concurrently.
package postgres
