package store

import "time"

// MigrationStatus is the state of one schema migration of a SQL backend, as
// reported by the backends' MigrationStatus methods and `latchkey migrate
// status`.
type MigrationStatus struct {
	Version   int64     // the migration's version, from its file name
	Name      string    // the migration's file name
	Applied   bool      // whether the database has it
	AppliedAt time.Time // when it was applied (UTC); zero when not applied
}
