// Package storetest is the conformance suite every store.Store backend
// passes (Run), and the helpers other packages' tests use to get a real,
// migrated store: SQLite always, PostgreSQL and MySQL when their DSN is set
// in LATCHKEY_TEST_POSTGRES_DSN and LATCHKEY_TEST_MYSQL_DSN.
//
// When a DSN variable is unset the backend is skipped, unless CI is set in
// the environment, in which case the test fails: CI must run every backend.
package storetest
