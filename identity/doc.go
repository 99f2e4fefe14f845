// Package identity is the face-neutral identity service: creating, reading,
// listing, updating, patching and deleting identities with their addresses
// and credentials, and importing them in bulk. Both API faces use it; the
// Kratos admin API is a thin layer over it.
//
// The service owns the rules that hold whichever face asks: traits are
// validated against the identity's schema; login identifiers and verifiable
// and recovery addresses are derived from the traits through the schema's
// ory.sh/kratos extension; cleartext passwords are hashed with the configured
// hasher while imported hashes are accepted in every format the password
// package can verify (checked for syntax only, verified lazily at login);
// OIDC links are stored as provider:subject identifiers. Every error it
// returns is a *core.Error: CodeInvalid for bad input (the message names the
// JSON pointer or field), CodeNotFound for unknown ids, CodeConflict when an
// identifier, address or external id belongs to another identity, and
// CodeInternal (with the cause attached for the log) for everything else.
//
// Service runs each operation in its own transaction. A caller that must
// write an identity together with other records (a flow step creating the
// registered identity) binds the service to its own transaction with
// WithTx; the TxService applies the same rules. Slow password hashing does
// not belong inside a transaction (on SQLite it would hold the single
// writer): Prepare validates and hashes a draft before the transaction and
// TxService.CreatePrepared stores it inside. TxService writes look up every
// identifier, address and external id they would take before writing, so a
// taken one is reported as CodeConflict with the transaction still usable;
// errors after a failed statement match ErrTxAborted and require a
// rollback.
package identity
