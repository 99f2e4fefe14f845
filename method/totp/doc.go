// Package totp is the time-based one-time password method both faces share
// (Kratos' totp method, Hanko's authenticator app "otp"): RFC 6238 with
// HMAC-SHA1, 6 digits and a 30 second step, accepting the step before and
// after the current one for clock drift (RFC 6238 §5.2). Keys and codes come
// from github.com/pquerna/otp; this package adds what an identity server
// needs around them:
//
//   - the key (its otpauth:// URL, which carries the secret) is stored only
//     encrypted, bound to the identity it belongs to, through a Sealer
//     (*cipher.Cipher);
//   - a code is accepted once: the accepted time step is claimed in a Ledger
//     (store.Counters) inside the caller's transaction, so a replay within
//     the code's window is refused, on every replica;
//   - wrong codes count against attempt limits per identity and per client
//     address before any comparison is made.
//
// The package stores nothing itself and must not import net/http or
// database/sql: the faces hand it the credential config and their
// transaction's ledger.
package totp
