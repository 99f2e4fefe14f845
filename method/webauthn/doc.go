// Package webauthn is the WebAuthn method both faces share: passkeys
// (discoverable credentials, first factor) and security keys (mfa_only,
// second factor) over one credential store, with every ceremony run by
// github.com/go-webauthn/webauthn. Nothing here is hand-rolled: attestation
// and assertion checks (WebAuthn Level 3 §7.1 "Registering a New
// Credential", §7.2 "Verifying an Authentication Assertion") are the
// library's.
//
// # API
//
//	m, err := webauthn.New(webauthn.Config{RPID, RPDisplayName, RPOrigins,
//	        UserVerification, Attestation, NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
//
//	// Registration (§7.1): passkey, or security key with MFAOnly.
//	opts, sess, err := m.BeginRegistration(ctx, tx, webauthn.User{IdentityID, Name, DisplayName},
//	        webauthn.RegistrationOptions{MFAOnly: false})
//	// send opts ({"publicKey":{…}}) to the browser; stash sess in the flow
//	cred, err := m.FinishRegistration(ctx, tx, sess, user, publicKeyCredentialJSON, displayName)
//
//	// Login (§7.2): discoverable (IdentityID empty; Conditional for autofill),
//	// allow-listed for a known identity, or a second factor (MFAOnly).
//	opts, sess, err := m.BeginLogin(ctx, tx, webauthn.LoginOptions{IdentityID, MFAOnly, Conditional})
//	res, err := m.FinishLogin(ctx, tx, sess, publicKeyCredentialJSON) // res.IdentityID, res.Credential
//
// Session is plain JSON: keep it in the flow's stash (never in process
// memory) between Begin and Finish, and delete it after Finish whatever
// Finish returns; Finish also marks it Used and refuses a used one, so a
// challenge answers once. Finish errors are the *core.Error values of
// errors.go (ErrNoCeremony, ErrMalformed, ErrVerificationFailed,
// ErrUnknownCredential, ErrMFAOnly, ErrCredentialExists,
// ErrClonedAuthenticator), wrapped with their cause: test with errors.Is,
// and let the flow step commit when one is returned (the counter flag of a
// cloned authenticator is written through the store passed in).
//
// # Storage: two views of the same records
//
// Credentials live in one table (store.WebAuthnCredentials,
// core.WebAuthnCredential), never in core.Identity.Credentials. Hanko's
// passkeys and security keys are these records as they are; Kratos'
// credential type "passkey" is the records with MFAOnly false and type
// "webauthn" the records with MFAOnly true (security keys), each listed in
// Kratos' config shape by the Kratos face. A credential made through either
// face is therefore listed and usable on both, and deleting it on either
// removes it for both. One identity has one user handle (§5.4.3 user.id):
// the handle of its stored credentials, or the 16 bytes of its UUID for the
// first one (Hanko's choice; §14.6.1: no personal data in it).
//
// Counters (§6.1.1): every successful assertion stores the signature
// counter, backup state and last-used time. A counter not greater than the
// stored one, when either is non-zero, flags the credential (CloneWarning,
// Kratos' clone_warning) and refuses the assertion.
//
// This package must not import net/http or database/sql (import firewall;
// go-webauthn itself brings net/http for helpers this package does not use).
package webauthn
