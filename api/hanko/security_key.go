package hanko

import (
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store"
)

// Security keys as a second factor (hanko.mfa.security_keys), as Hanko v3
// serves them:
//
//   - set up in mfa_method_chooser (continue_to_security_key_creation →
//     mfa_security_key_creation → webauthn_generate_creation_options →
//     onboarding_verify_passkey_attestation) or in the profile
//     (security_key_create → webauthn_credential_verification), removed with
//     security_key_delete;
//   - asked for after a password or passcode login (login_security_key →
//     webauthn_generate_request_options → login_passkey →
//     webauthn_verify_assertion_response), before an authenticator app when
//     the user has both (login_security_key offers continue_to_login_otp,
//     login_otp offers continue_to_login_security_key). The session's amr
//     gets "security_key".
//
// The ceremonies are method/webauthn's with MFAOnly; the keys are the
// WebAuthn credential records with mfa_only, the ones the Kratos face's
// webauthn method uses as second factor, so a key set up on either face
// works on both.

var (
	// keyCreateSecurityKey marks that the pending creation ceremony (and
	// the attestation state that answers it) is for a security key, not a
	// passkey (Hanko's create_mfa_only_credential).
	keyCreateSecurityKey = flow.NewKey[bool]("create_mfa_only_credential")
	// keyNewSecurityKey is a security key verified during registration,
	// stored when the user is created at success.
	keyNewSecurityKey = flow.NewKey[core.WebAuthnCredential]("new_security_key")
)

// errSecurityKeyInvalid is Hanko's answer to an assertion that does not
// verify at the second factor (its passkey_invalid).
var errSecurityKeyInvalid = errPasskeyInvalid

// skOn reports whether security keys are a second factor at all:
// hanko.mfa.enabled, hanko.mfa.security_keys.enabled and a usable relying
// party (cmd/latchkey passes no method without one).
func (h *Handler) skOn() bool {
	return h.sk != nil && h.cfg.MFA.Enabled && h.cfg.MFA.SecurityKeys.Enabled
}

// skUsable reports whether the client can use the configured kind of
// security key: a platform-only configuration needs a client that reported
// a platform authenticator.
func (h *Handler) skUsable(c *flow.Context) bool {
	if h.cfg.MFA.SecurityKeys.AuthenticatorAttachment != "platform" {
		return true
	}
	caps := capabilitiesOf(c)
	return caps.PlatformAuthenticatorAvail
}

// skAvailable reports whether a security key can be created or used in this
// flow: security keys are on and the client said it runs WebAuthn.
func (h *Handler) skAvailable(c *flow.Context) bool {
	caps := capabilitiesOf(c)
	return h.skOn() && caps.WebAuthn && h.skUsable(c)
}

// mfaCreationOffered reports whether mfa_method_chooser has a method to
// offer.
func (h *Handler) mfaCreationOffered(c *flow.Context) bool {
	return h.totpOn() || h.skAvailable(c)
}

// securityKeysOf returns the security keys (mfa_only) of list.
func securityKeysOf(list []core.WebAuthnCredential) []core.WebAuthnCredential {
	return credentialsOf(list, true)
}

// userSecurityKeys returns the security keys of the user id.
func (h *Handler) userSecurityKeys(c *flow.Context, id string) []core.WebAuthnCredential {
	return h.userCredentials(c, id, true)
}

// securityKeyLimitReached reports whether the flow's user has
// hanko.mfa.security_keys.limit keys already (never during registration).
func (h *Handler) securityKeyLimitReached(c *flow.Context) bool {
	if c.Definition().Kind() == core.FlowRegistration {
		return keyNewSecurityKey.Has(c.Stash())
	}
	id := c.IdentityID()
	if id == "" {
		id = userIDOf(c)
	}
	return len(h.userSecurityKeys(c, id)) >= h.cfg.MFA.SecurityKeys.Limit
}

// creationMethod returns the ceremonies of the credential the flow is
// creating: security keys or passkeys; nil when that kind is off.
func (h *Handler) creationMethod(c *flow.Context) (m *webauthn.Method, mfaOnly bool) {
	if keyCreateSecurityKey.Has(c.Stash()) {
		return h.sk, true
	}
	return h.wa, false
}

// attestationAvailable is the Suspended predicate's opposite of
// webauthn_verify_attestation_response: the kind being created is on.
func (h *Handler) attestationAvailable(c *flow.Context) bool {
	if keyCreateSecurityKey.Has(c.Stash()) {
		return h.skAvailable(c)
	}
	return h.passkeysAvailable(c)
}

// generateSecurityKeyCreationOptions is mfa_security_key_creation's
// webauthn_generate_creation_options and the profile's security_key_create:
// it begins a security-key registration (non-discoverable, the configured
// attachment and user verification) and continues to next with
// payload.creation_options, answered by webauthn_verify_attestation_response.
func (h *Handler) generateSecurityKeyCreationOptions(next string) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		b := c.Base()
		if !h.skAvailable(b) || h.securityKeyLimitReached(b) {
			return c.Error(errOperationNotPermitted.core())
		}
		u, err := h.registrationUser(b)
		if err != nil {
			return err
		}
		raw, sess, err := h.sk.BeginRegistration(b.Context(), b.Tx(), u, webauthn.RegistrationOptions{MFAOnly: true})
		if err != nil {
			return fmt.Errorf("security key registration: %w", err)
		}
		keyWebAuthnSession.Set(b.Stash(), *sess)
		keyCreateSecurityKey.Set(b.Stash(), true)
		b.SetPayload("creation_options", raw)
		return c.Continue(next)
	}
}

// generateSecurityKeyRequestOptions is login_security_key's
// webauthn_generate_request_options: a login allowed to the user's security
// keys only, answered in login_passkey.
func (h *Handler) generateSecurityKeyRequestOptions(c *flow.ActionContext) error {
	b := c.Base()
	if !h.skAvailable(b) || !isSecondFactorStep(b) {
		return c.Error(errOperationNotPermitted.core())
	}
	raw, sess, err := h.sk.BeginLogin(b.Context(), b.Tx(), webauthn.LoginOptions{IdentityID: userIDOf(b), MFAOnly: true})
	if errors.Is(err, webauthn.ErrNoCredentials) {
		return c.Error(errOperationNotPermitted.core())
	}
	if err != nil {
		return fmt.Errorf("security key login: %w", err)
	}
	keyWebAuthnSession.Set(b.Stash(), *sess)
	b.SetPayload("request_options", raw)
	return c.Continue(stateLoginPasskey)
}

// isSecondFactorStep reports whether a login flow's user has passed a first
// factor: login_passkey then answers a security key, never a passkey that
// would log in (perhaps another user) on its own.
func isSecondFactorStep(c *flow.Context) bool {
	amr, _ := keyAMR.Get(c.Stash())
	return len(amr) > 0 && userIDOf(c) != ""
}

// verifySecurityKeyAssertion is login_passkey's
// webauthn_verify_assertion_response at the second factor: an assertion of
// one of the user's security keys to the pending challenge, counted by the
// shared attempt policy like an OTP code. A wrong, replayed or foreign
// assertion keeps the state with passkey_invalid (400
// form_data_invalid_error for another challenge) and fresh request options.
func (h *Handler) verifySecurityKeyAssertion(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	userID, ip := userIDOf(b), clientIP(b)
	if h.sk == nil {
		return c.Error(errOperationNotPermitted.core())
	}
	// Counted before the assertion is looked at; a refused attempt leaves
	// the pending challenge as it is.
	attempts := h.attempts.In(tx)
	if err := attempts.Check(ctx, ratelimit.WebAuthn, userID, ip); err != nil {
		var ex *ratelimit.ExceededError
		if errors.As(err, &ex) {
			b.SetPayload("retry_after", seconds(ex.RetryAfter))
			return c.Error(errRateLimitExceeded.core())
		}
		return err
	}
	sess, ok := keyWebAuthnSession.Get(b.Stash())
	keyWebAuthnSession.Delete(b.Stash())
	var sp *webauthn.Session
	if ok && sess.MFAOnly && sess.IdentityID == userID {
		sp = &sess
	}
	res, err := h.sk.FinishLogin(ctx, tx, sp, c.JSON("assertion_response"))
	if err == nil && res.IdentityID != userID {
		err = webauthn.ErrUnknownCredential // FinishLogin allow-lists the user; never trust less
	}
	if err != nil {
		mapped := ceremonyError(err)
		var ce *core.Error
		if !errors.As(mapped, &ce) {
			return err
		}
		if errors.Is(err, webauthn.ErrMFAOnly) {
			// A passkey answered where only security keys may.
			ce = errSecurityKeyInvalid.core()
			ce.Cause = err
			mapped = ce
		}
		h.audit(b, AuditLoginFailure, userID, "", err, true)
		if raw, fresh, berr := h.sk.BeginLogin(ctx, tx, webauthn.LoginOptions{IdentityID: userID, MFAOnly: true}); berr == nil {
			keyWebAuthnSession.Set(b.Stash(), *fresh)
			b.SetPayload("request_options", raw)
		}
		return c.Error(mapped)
	}
	if err := attempts.Succeed(ctx, ratelimit.WebAuthn, userID, ip); err != nil {
		return err
	}
	authenticated(b, userID, AMRSecurityKey)
	h.secondFactorPassed(b)
	return c.Continue()
}

// securityKeyIDInput is security_key_delete's input.
func securityKeyIDInput() flow.Input {
	return flow.Input{Name: "security_key_id", Type: flow.TypeString, Required: true, Hidden: true, TrimSpace: true}
}

// canDeleteSecurityKey reports whether the profile's user may delete a
// security key: one exists, and a required second factor (hanko.mfa.optional
// false) keeps at least one.
func (h *Handler) canDeleteSecurityKey(c *flow.Context) bool {
	n := len(h.userSecurityKeys(c, c.IdentityID()))
	if n == 0 {
		return false
	}
	return !(h.cfg.MFA.Enabled && !h.cfg.MFA.Optional && n == 1)
}

// deleteSecurityKey is the profile's security_key_delete: the key goes for
// both faces (one store). Once the user has no security key left, no
// session goes on claiming one (the webauthn method and its aal2), as when
// an authenticator app is removed. An id that is not one of the user's
// security keys answers Hanko's not_found.
func (h *Handler) deleteSecurityKey(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	if !h.canDeleteSecurityKey(b) {
		return c.Error(errOperationNotPermitted.core())
	}
	cred, err := tx.GetWebAuthnCredential(ctx, c.String("security_key_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cred.IdentityID != b.IdentityID() || !cred.MFAOnly)) {
		return c.Error(errNotFound.core())
	}
	if err != nil {
		return fmt.Errorf("load security key: %w", err)
	}
	if err := h.removeSecurityKey(b, cred); err != nil {
		return err
	}
	return c.Continue(stateProfileInit)
}

// removeSecurityKey deletes cred, a security key of the profile's user;
// with the user's last key goes every session's claim to one.
func (h *Handler) removeSecurityKey(c *flow.Context, cred *core.WebAuthnCredential) error {
	ctx, tx := c.Context(), c.Tx()
	if err := tx.DeleteWebAuthnCredential(ctx, cred.IdentityID, cred.ID); err != nil {
		return fmt.Errorf("delete security key: %w", err)
	}
	if len(h.userSecurityKeys(c, cred.IdentityID)) == 0 {
		if _, err := identity.DropSessionMethod(ctx, tx, cred.IdentityID, string(core.CredentialWebAuthn), h.now()); err != nil {
			return fmt.Errorf("delete security key: %w", err)
		}
	}
	requestOf(ctx).user = nil
	return nil
}

// storeNewSecurityKey stores the security key verified during
// registration, now that its user exists (createRegisteredUser, same
// transaction).
func (h *Handler) storeNewSecurityKey(c *flow.Context, userID string) (bool, error) {
	rec, ok := keyNewSecurityKey.Get(c.Stash())
	if !ok {
		return false, nil
	}
	rec.IdentityID = userID
	if err := c.Tx().CreateWebAuthnCredential(c.Context(), &rec); err != nil {
		return false, fmt.Errorf("store security key: %w", err)
	}
	keyNewSecurityKey.Delete(c.Stash())
	return true, nil
}
