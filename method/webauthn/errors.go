package webauthn

import (
	"fmt"

	"github.com/latchkey/latchkey/core"
)

// Errors of the ceremonies. Each is a *core.Error whose message can be shown
// to the user as is; Finish* return them wrapped together with the cause (for
// the log), so test them with errors.Is. A face maps them to its wire format
// (Hanko: passkey_invalid, webauthn_credential_invalid_mfa_only,
// webauthn_credential_already_exists, form_data_invalid_error).
var (
	// ErrNoCeremony means the flow holds no session for the ceremony being
	// finished: none was begun, it was begun for another identity or kind,
	// or it was already used (every session is good for one Finish).
	ErrNoCeremony = &core.Error{Code: core.CodeInvalid, Message: "No passkey request is pending in this flow, or it was already used. Please request new options and try again."}
	// ErrMalformed means the client's response is not a WebAuthn
	// PublicKeyCredential JSON of the expected kind.
	ErrMalformed = &core.Error{Code: core.CodeInvalid, Message: "The passkey response is malformed."}
	// ErrVerificationFailed means a check of WebAuthn §7.1 or §7.2 failed:
	// challenge, origin, RP ID hash, signature, user presence or (when
	// required) user verification.
	ErrVerificationFailed = &core.Error{Code: core.CodeUnauthorized, Message: "The passkey could not be verified."}
	// ErrChallengeMismatch means the response answers another challenge
	// than the flow's pending one (WebAuthn §7.1 step 8, §7.2 step 12): a
	// replayed response, or one from another flow. It is returned after
	// ErrVerificationFailed in one chain (errors.Is matches both; the first
	// *core.Error is ErrVerificationFailed); Hanko answers it as a form
	// error (400), not as an invalid passkey.
	ErrChallengeMismatch = &core.Error{Code: core.CodeInvalid, Message: "The passkey response answers another request (replayed, or from another flow). Please request new options and try again."}
	// ErrUnknownCredential means no credential with the response's id is
	// stored, or it belongs to another identity than the one asked for.
	ErrUnknownCredential = &core.Error{Code: core.CodeUnauthorized, Message: "The passkey is not known. It may have been deleted."}
	// ErrMFAOnly means a security key (mfa_only) answered a first-factor
	// login, or a passkey answered where only security keys may.
	ErrMFAOnly = &core.Error{Code: core.CodeForbidden, Message: "This security key can only be used as a second factor."}
	// ErrCredentialExists means the new credential's id is already stored.
	ErrCredentialExists = &core.Error{Code: core.CodeConflict, Message: "This passkey is already registered."}
	// ErrClonedAuthenticator means the authenticator reported a signature
	// counter not greater than the stored one (WebAuthn §6.1.1, §7.2 step
	// 22): the credential may have been cloned. The credential is flagged
	// (CloneWarning) and the assertion refused.
	ErrClonedAuthenticator = &core.Error{Code: core.CodeUnauthorized, Message: "The passkey's signature counter went backwards; it may have been cloned. Sign in another way and remove this passkey."}
)

// challengeMismatch is the error for a response to another challenge.
func challengeMismatch(got, want string) error {
	// ErrVerificationFailed first: a caller that reads the first *core.Error
	// (core.ErrorCode) sees the failed verification it always saw.
	return fmt.Errorf("webauthn: %w: %w: challenge %.8s… is not the pending %.8s…", ErrVerificationFailed, ErrChallengeMismatch, got, want)
}

// fail wraps kind (one of the errors above) with the cause for the log.
func fail(kind *core.Error, cause error) error {
	if cause == nil {
		return kind
	}
	return fmt.Errorf("webauthn: %w: %w", kind, cause)
}
