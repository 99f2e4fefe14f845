// Package code is the one-time code method both faces share: Kratos' e-mail
// and SMS codes (login, registration, recovery, verification) and link
// tokens, and Hanko's passcodes. It issues a code, keeps only a keyed hash of
// it bound to its purpose (so a code from one flow is useless in another),
// and checks submissions against expiry and an attempt limit.
//
// Codes are short and low in entropy, so the hash is an HMAC keyed with the
// server's secrets (secrets.default): a copy of the database alone does not
// allow guessing them offline. Checks compare in constant time. The package
// stores nothing itself: the Code value lives in the flow's stash (or any
// JSON column) and the caller persists it after every Check, which is what
// makes the attempt limit hold across replicas.
//
// This package must not import net/http or database/sql.
package code
