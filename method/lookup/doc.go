// Package lookup is the backup (recovery) code method: twelve random codes
// per identity, each usable once as a second factor (Kratos' lookup_secret).
//
// Codes are stored encrypted, bound to the identity, through a Sealer
// (*cipher.Cipher), because Kratos shows them again on request (settings'
// reveal, the admin API's include_credential). A used code keeps its place
// in the list with the time it was used. Redeem counts the attempt against
// the limits per identity and per client address first, then takes a
// per-identity lock in the caller's transaction (a Ledger, store.Counters)
// before reading the codes, so two concurrent submissions of one code cannot
// both succeed. Codes are compared in constant time.
//
// The package stores nothing itself and must not import net/http or
// database/sql.
package lookup
