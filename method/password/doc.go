// Package password is the password credential method: it hashes new
// passwords, verifies passwords against stored hashes, and checks new
// passwords against the password policy.
//
// # Hashing
//
// A [Hasher] hashes with the configured algorithm (argon2id by default, or
// bcrypt) and writes PHC-style strings: "$argon2id$v=19$m=…,t=…,p=…$salt$key"
// and "$2a$cost$…". [Hasher.NeedsRehash] tells when a stored hash was made
// with another algorithm or other parameters, so the login path can rehash
// the password it has just verified.
//
// # Verifying
//
// [Hasher.Verify] understands every format Ory Kratos accepts for imported
// password hashes (hash/hash_comparator.go), plus the plain crypt(3) forms:
//
//	$2$ $2a$ $2b$ $2y$ $2z$               bcrypt
//	$argon2id$ $argon2i$                  argon2, PHC syntax, v=19
//	$pbkdf2-sha1|sha224|sha256|sha384|sha512$i=…,l=…$salt$key
//	$scrypt$ln=N,r=…,p=…$salt$key         N is the cost itself (Kratos' reading), not its log2
//	$firescrypt$ln=…,r=…,p=…$salt$hash$separator$signer-key
//	{SSHA} {SSHA256} {SSHA512}            base64(digest ‖ salt)
//	$sha1$ $sha256$ $sha512$pf=…$salt$hash   pf is a base64 template over {PASSWORD} and {SALT}
//	$md5$hash  and  $md5$pf=…$salt$hash
//	$hmac-md4|md5|sha1|sha224|sha256|sha384|sha512$base64(hex(mac))$base64(key)
//	$1$ $5$ $6$                           md5-crypt, sha256-crypt, sha512-crypt (crypt(3))
//	$md5-crypt$ $sha256-crypt$ $sha512-crypt$   Kratos' names for the same three
//
// Every comparison of secret material is constant-time. Parameters read
// from a stored hash are capped (argon2 memory and passes, bcrypt cost,
// pbkdf2 and sha-crypt rounds, scrypt memory and work, the length of the
// encoded string), so a hostile or corrupt hash is rejected at once instead
// of tying up a CPU or allocating gigabytes. [Hasher.DummyVerify] spends the
// same time as a real verification, for logins with an unknown identifier.
// [Scheme] recognises and checks a stored hash without computing anything,
// for validating hashes at import.
//
// # Policy
//
// [Policy.Check] enforces a minimum and maximum length and, like Kratos,
// refuses passwords too similar to the user's identifiers. Its error is a
// *core.Error with code invalid whose cause is a *PolicyError carrying a
// typed [Reason], so each API face can render its own message.
// [Policy.CheckContext] adds Kratos' breach check through a [BreachCounter]
// (package pwned asks Have I Been Pwned; this package makes no network
// calls).
//
// The package imports neither net/http nor database/sql.
package password
