// Package store defines the one storage interface every backend implements
// (SQLite, PostgreSQL, MySQL), its error contract and its query types. The
// backends live in sub-packages; storetest is the conformance suite they all
// pass. Only cmd/latchkey imports a backend.
package store
