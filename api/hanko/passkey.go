package hanko

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
)

// Passkeys in the Hanko flows, as Hanko v3: the login (button in login_init
// and login_method_chooser → login_passkey, and conditional UI on
// login_init), onboarding after login and during registration
// (onboarding_create_passkey → onboarding_verify_passkey_attestation, or the
// credential_onboarding_chooser), and the profile
// (webauthn_credential_create → webauthn_credential_verification, rename,
// delete). Every ceremony is method/webauthn's; the challenge lives in the
// flow's stash, one use. Security keys (mfa_only) are second factors and
// belong to the MFA states.

// Stash keys of the passkey actions.
var (
	// keyWebAuthnSession is the ceremony begun by the last
	// webauthn_generate_*_options (or webauthn_credential_create).
	keyWebAuthnSession = flow.NewKey[webauthn.Session]("webauthn_session")
	// keyConditionalSession is the conditional-UI login ceremony begun when
	// login_init was entered.
	keyConditionalSession = flow.NewKey[webauthn.Session]("webauthn_conditional_session")
	// keyNewUserID is the id a registering user will be created under; a
	// passkey created during registration carries a user handle derived
	// from it.
	keyNewUserID = flow.NewKey[string]("new_user_id")
	// keyNewPasskey is a passkey verified during registration, stored when
	// the user is created at success.
	keyNewPasskey = flow.NewKey[core.WebAuthnCredential]("new_passkey")
	// keySkipRedirected says a skip of one credential already led to the
	// other (acquire "conditional"); a second skip ends the onboarding.
	keySkipRedirected = flow.NewStickyKey[bool]("onboarding_skip_redirected")
)

// Hanko's passkey errors (backend/flow_api/flow/shared/errors.go).
var (
	errPasskeyInvalid           = &flowError{http.StatusUnauthorized, "passkey_invalid", "The passkey is invalid."}
	errWebauthnMFAOnly          = &flowError{http.StatusUnauthorized, "webauthn_credential_invalid_mfa_only", "This credential can be used as a second factor security key only."}
	errWebauthnCredentialExists = &flowError{http.StatusBadRequest, "webauthn_credential_already_exists", "The WebAuthn credential already exists."}
)

// passkeysOn reports whether the Hanko flows offer passkeys at all:
// hanko.passkey.enabled and a usable relying party (cmd/latchkey passes no
// method without one).
func (h *Handler) passkeysOn() bool { return h.wa != nil && h.cfg.Passkey.Enabled }

// passkeysAvailable reports whether passkeys are on and the client said it
// can run WebAuthn (register_client_capabilities): a ceremony the browser
// cannot run is never offered.
func (h *Handler) passkeysAvailable(c *flow.Context) bool {
	if !h.passkeysOn() {
		return false
	}
	caps := capabilitiesOf(c)
	return caps.WebAuthn
}

// ceremonyError maps a method/webauthn error to Hanko's flow error; any
// other error is returned as is (the step fails and rolls back).
func ceremonyError(err error) error {
	var fe *flowError
	switch {
	case errors.Is(err, webauthn.ErrNoCeremony), errors.Is(err, webauthn.ErrMalformed),
		errors.Is(err, webauthn.ErrChallengeMismatch):
		// A replayed response answers Hanko's 400, a forged one 401
		// (notes, "Observed on a real Hanko v3 server").
		fe = errFormDataInvalid
	case errors.Is(err, webauthn.ErrMFAOnly):
		fe = errWebauthnMFAOnly
	case errors.Is(err, webauthn.ErrCredentialExists):
		fe = errWebauthnCredentialExists
	case errors.Is(err, webauthn.ErrVerificationFailed), errors.Is(err, webauthn.ErrUnknownCredential),
		errors.Is(err, webauthn.ErrClonedAuthenticator), errors.Is(err, webauthn.ErrNoCredentials):
		fe = errPasskeyInvalid
	default:
		return err
	}
	ce := fe.core()
	ce.Cause = err
	return ce
}

// credentialsOf returns the security keys (mfaOnly) or the passkeys of
// list.
func credentialsOf(list []core.WebAuthnCredential, mfaOnly bool) []core.WebAuthnCredential {
	var out []core.WebAuthnCredential
	for _, c := range list {
		if c.MFAOnly == mfaOnly {
			out = append(out, c)
		}
	}
	return out
}

// passkeysOf returns the passkeys (not the security keys) of list.
func passkeysOf(list []core.WebAuthnCredential) []core.WebAuthnCredential {
	return credentialsOf(list, false)
}

// userCredentials returns the security keys (mfaOnly) or the passkeys of
// the user id, read through the step's transaction when there is one.
func (h *Handler) userCredentials(c *flow.Context, id string, mfaOnly bool) []core.WebAuthnCredential {
	if id == "" {
		return nil
	}
	var q store.WebAuthnCredentials = h.store
	if c.Tx() != nil {
		q = c.Tx()
	}
	list, err := q.ListWebAuthnCredentials(c.Context(), id)
	if err != nil {
		return nil
	}
	return credentialsOf(list, mfaOnly)
}

// userPasskeys returns the passkeys of the user id.
func (h *Handler) userPasskeys(c *flow.Context, id string) []core.WebAuthnCredential {
	return h.userCredentials(c, id, false)
}

// conditionalRequestOptions is login_init's BeforeState hook: a client that
// reported conditional mediation gets request options for the browser's
// autofill in payload.request_options, answered by
// webauthn_verify_assertion_response on login_init.
func (h *Handler) conditionalRequestOptions(c *flow.Context) error {
	caps := capabilitiesOf(c)
	if !h.passkeysAvailable(c) || !caps.ConditionalMediation {
		return nil
	}
	raw, sess, err := h.wa.BeginLogin(c.Context(), c.Tx(), webauthn.LoginOptions{Conditional: true})
	if err != nil {
		return fmt.Errorf("conditional passkey login: %w", err)
	}
	keyConditionalSession.Set(c.Stash(), *sess)
	c.SetPayload("request_options", raw)
	return nil
}

// generateRequestOptions is webauthn_generate_request_options (login_init,
// login_method_chooser): a discoverable login, or for a user named at
// login_init who has passkeys one allowed to those; then login_passkey.
func (h *Handler) generateRequestOptions(c *flow.ActionContext) error {
	b := c.Base()
	opts := webauthn.LoginOptions{}
	if b.State() == stateLoginMethodChooser && len(h.userPasskeys(b, userIDOf(b))) > 0 {
		opts.IdentityID = userIDOf(b)
	}
	raw, sess, err := h.wa.BeginLogin(b.Context(), b.Tx(), opts)
	if err != nil {
		return fmt.Errorf("passkey login: %w", err)
	}
	keyWebAuthnSession.Set(b.Stash(), *sess)
	b.SetPayload("request_options", raw)
	return c.Continue(stateLoginPasskey)
}

// verifyAssertion is webauthn_verify_assertion_response: on login_init it
// answers the conditional-UI ceremony, on login_passkey the one begun by
// webauthn_generate_request_options. The ceremony is used once; a failed
// login_passkey gets fresh request options, so the user can try again.
func (h *Handler) verifyAssertion(c *flow.ActionContext) error {
	b := c.Base()
	if b.State() == stateLoginPasskey && isSecondFactorStep(b) {
		return h.verifySecurityKeyAssertion(c)
	}
	key := keyWebAuthnSession
	if b.State() == stateLoginInit {
		key = keyConditionalSession
	}
	sess, ok := key.Get(b.Stash())
	key.Delete(b.Stash())
	var sp *webauthn.Session
	if ok {
		sp = &sess
	}
	res, err := h.wa.FinishLogin(b.Context(), b.Tx(), sp, c.JSON("assertion_response"))
	if err == nil {
		var i *core.Identity
		i, err = b.Tx().GetIdentity(b.Context(), res.IdentityID)
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if i.State != core.IdentityActive {
			err = webauthn.ErrUnknownCredential
		} else {
			authenticated(b, i.ID, AMRPasskey)
			h.audit(b, AuditLoginSuccess, i.ID, userPrimaryEmail(i), nil, true)
			return c.Continue(h.loginOnboarding(b, i)...)
		}
	}
	mapped := ceremonyError(err)
	var ce *core.Error
	if !errors.As(mapped, &ce) {
		return err
	}
	h.audit(b, AuditLoginFailure, "", "", err, false)
	if b.State() == stateLoginPasskey {
		if raw, fresh, err := h.wa.BeginLogin(b.Context(), b.Tx(), webauthn.LoginOptions{IdentityID: sess.IdentityID}); err == nil {
			keyWebAuthnSession.Set(b.Stash(), *fresh)
			b.SetPayload("request_options", raw)
		}
	}
	return c.Error(mapped)
}

// registrationUser returns who a passkey created in this flow is for: the
// flow's user, or during registration the user about to be created (under
// keyNewUserID, chosen now if not yet).
func (h *Handler) registrationUser(c *flow.Context) (webauthn.User, error) {
	if c.Definition().Kind() == core.FlowRegistration {
		id, _ := keyNewUserID.Get(c.Stash())
		if id == "" {
			id = h.newID()
			keyNewUserID.Set(c.Stash(), id)
		}
		email, _ := keyEmail.Get(c.Stash())
		username, _ := keyUsername.Get(c.Stash())
		return webauthn.User{IdentityID: id, Name: firstNonEmpty(email, username, id)}, nil
	}
	i, err := h.flowUser(c)
	if err != nil {
		return webauthn.User{}, err
	}
	t := traitsOf(i)
	return webauthn.User{IdentityID: i.ID, Name: firstNonEmpty(userPrimaryEmail(i), t.Username, i.ID), DisplayName: t.Name}, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// passkeyLimitReached reports whether the flow's user has
// hanko.passkey.limit passkeys already.
func (h *Handler) passkeyLimitReached(c *flow.Context) bool {
	if c.Definition().Kind() == core.FlowRegistration {
		return false
	}
	id := c.IdentityID()
	if id == "" {
		id = userIDOf(c)
	}
	return len(h.userPasskeys(c, id)) >= h.cfg.Passkey.Limit
}

// generateCreationOptions is webauthn_generate_creation_options
// (onboarding_create_passkey) and webauthn_credential_create (profile): it
// begins a passkey registration and continues to the state that verifies
// it (next), with payload.creation_options.
func (h *Handler) generateCreationOptions(next string) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		b := c.Base()
		if h.passkeyLimitReached(b) {
			return c.Error(errOperationNotPermitted.core())
		}
		u, err := h.registrationUser(b)
		if err != nil {
			return err
		}
		raw, sess, err := h.wa.BeginRegistration(b.Context(), b.Tx(), u, webauthn.RegistrationOptions{})
		if err != nil {
			return fmt.Errorf("passkey registration: %w", err)
		}
		keyWebAuthnSession.Set(b.Stash(), *sess)
		keyCreateSecurityKey.Delete(b.Stash())
		b.SetPayload("creation_options", raw)
		return c.Continue(next)
	}
}

// verifyAttestation is webauthn_verify_attestation_response with input
// public_key (onboarding_verify_passkey_attestation,
// webauthn_credential_verification), for a passkey or, after
// generateSecurityKeyCreationOptions, a security key. The credential is
// stored with the user; during registration it waits in the stash until the
// user is created at success. then names the state to continue to ("" for
// the next scheduled one).
func (h *Handler) verifyAttestation(then string) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		b := c.Base()
		m, mfaOnly := h.creationMethod(b)
		if m == nil || !h.attestationAvailable(b) {
			return c.Error(errOperationNotPermitted.core())
		}
		sess, ok := keyWebAuthnSession.Get(b.Stash())
		keyWebAuthnSession.Delete(b.Stash())
		var sp *webauthn.Session
		if ok && sess.MFAOnly == mfaOnly {
			sp = &sess
		}
		u, err := h.registrationUser(b)
		if err != nil {
			return err
		}
		limited := h.passkeyLimitReached
		if mfaOnly {
			limited = h.securityKeyLimitReached
		}
		if limited(b) {
			return c.Error(errOperationNotPermitted.core())
		}
		var rec *core.WebAuthnCredential
		if b.Definition().Kind() == core.FlowRegistration {
			rec, err = m.VerifyRegistration(b.Context(), b.Tx(), sp, u, c.JSON("public_key"), "")
			if err == nil && mfaOnly {
				keyNewSecurityKey.Set(b.Stash(), *rec)
			} else if err == nil {
				keyNewPasskey.Set(b.Stash(), *rec)
			}
		} else {
			rec, err = m.FinishRegistration(b.Context(), b.Tx(), sp, u, c.JSON("public_key"), "")
		}
		if err != nil {
			mapped := ceremonyError(err)
			var ce *core.Error
			if !errors.As(mapped, &ce) {
				return err
			}
			// Fresh options, so the user can try again without going back.
			if raw, fresh, berr := m.BeginRegistration(b.Context(), b.Tx(), u, webauthn.RegistrationOptions{MFAOnly: mfaOnly}); berr == nil {
				keyWebAuthnSession.Set(b.Stash(), *fresh)
				b.SetPayload("creation_options", raw)
			}
			return c.Error(mapped)
		}
		keyCreateSecurityKey.Delete(b.Stash())
		if b.Definition().Kind() != core.FlowRegistration {
			email, _ := keyEmail.Get(b.Stash())
			typ := AuditPasskeyCreated
			if mfaOnly {
				typ = AuditSecurityKeyCreated
			}
			h.audit(b, typ, u.IdentityID, email, nil, true)
			requestOf(b.Context()).user = nil
		}
		if then == "" {
			return c.Continue()
		}
		return c.Continue(then)
	}
}

// passkeyIDInput is the passkey_id input of rename and delete.
func passkeyIDInput() flow.Input {
	return flow.Input{Name: "passkey_id", Type: flow.TypeString, Required: true, Hidden: true, TrimSpace: true}
}

// profilePasskey returns the profile user's passkey (or, with
// securityKeys, passkey or security key) named by passkey_id, or an input
// error.
func (h *Handler) profilePasskey(c *flow.ActionContext, securityKeys bool) (*core.WebAuthnCredential, error, error) {
	b := c.Base()
	cred, err := b.Tx().GetWebAuthnCredential(b.Context(), c.String("passkey_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cred.IdentityID != b.IdentityID() || (cred.MFAOnly && !securityKeys))) {
		return nil, inputErr("passkey_id", flow.CodeValueInvalid), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load passkey: %w", err)
	}
	return cred, nil, nil
}

// renamePasskey is webauthn_credential_rename: as in Hanko it names a
// passkey or a security key (hanko-elements renames both through it).
func (h *Handler) renamePasskey(c *flow.ActionContext) error {
	b := c.Base()
	cred, ierr, err := h.profilePasskey(c, h.skOn())
	if err != nil {
		return err
	}
	if ierr != nil {
		return c.Error(ierr)
	}
	name := strings.TrimSpace(c.String("passkey_name"))
	if name == "" || !utf8.ValidString(name) {
		return c.Error(inputErr("passkey_name", flow.CodeValueInvalid))
	}
	cred.DisplayName = name
	cred.UpdatedAt = h.now().UTC()
	if err := b.Tx().UpdateWebAuthnCredential(b.Context(), cred); err != nil {
		return fmt.Errorf("rename passkey: %w", err)
	}
	return c.Continue(stateProfileInit)
}

// canDeletePasskey reports whether the user i may delete a passkey: one
// exists, and the user keeps a way to log in without it (another passkey,
// a password, or passcodes to an address).
func (h *Handler) canDeletePasskey(c *flow.Context, i *core.Identity) bool {
	if i == nil {
		return false
	}
	n := len(h.userPasskeys(c, i.ID))
	switch {
	case n == 0:
		return false
	case n > 1:
		return true
	case h.cfg.Password.Enabled && passwordJSON(i) != nil:
		return true
	}
	return h.cfg.Email.Enabled && h.cfg.Email.UseForAuthentication && h.codes != nil && len(emails(i)) > 0
}

// deletePasskey is webauthn_credential_delete: the passkey goes for both
// faces (one store). The last way to log in is not deleted. As in Hanko it
// takes a security key's id as well (hanko-elements 2.7.0 shows the delete
// button of a security key only while this action is offered); that key
// then goes as with security_key_delete.
func (h *Handler) deletePasskey(c *flow.ActionContext) error {
	b := c.Base()
	cred, ierr, err := h.profilePasskey(c, true)
	if err != nil {
		return err
	}
	if ierr != nil {
		return c.Error(ierr)
	}
	if cred.MFAOnly {
		if !h.canDeleteSecurityKey(b) {
			return c.Error(errOperationNotPermitted.core())
		}
		if err := h.removeSecurityKey(b, cred); err != nil {
			return err
		}
		return c.Continue(stateProfileInit)
	}
	if i, err := h.flowUser(b); err != nil {
		return err
	} else if !h.canDeletePasskey(b, i) {
		return c.Error(errOperationNotPermitted.core())
	}
	if err := b.Tx().DeleteWebAuthnCredential(b.Context(), cred.IdentityID, cred.ID); err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	h.audit(b, AuditPasskeyDeleted, cred.IdentityID, "", nil, true)
	return c.Continue(stateProfileInit)
}

// storeNewPasskey stores the passkey verified during registration, now
// that its user exists (createRegisteredUser, same transaction).
func (h *Handler) storeNewPasskey(c *flow.Context, userID string) (bool, error) {
	rec, ok := keyNewPasskey.Get(c.Stash())
	if !ok {
		return false, nil
	}
	rec.IdentityID = userID
	if err := c.Tx().CreateWebAuthnCredential(c.Context(), &rec); err != nil {
		// A conflict here lost a race after newPasskeyTaken's check: the
		// engine runs the step again, which then refuses it cleanly.
		return false, fmt.Errorf("store passkey: %w", err)
	}
	keyNewPasskey.Delete(c.Stash())
	return true, nil
}

// newPasskeyTaken refuses a registration whose verified passkey was stored
// by another registration meanwhile; call it before writing anything.
func (h *Handler) newPasskeyTaken(c *flow.Context) error {
	for _, key := range []flow.Key[core.WebAuthnCredential]{keyNewPasskey, keyNewSecurityKey} {
		rec, ok := key.Get(c.Stash())
		if !ok {
			continue
		}
		if _, err := c.Tx().GetWebAuthnCredential(c.Context(), rec.ID); err == nil {
			return flow.Refuse(errWebauthnCredentialExists.core())
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up webauthn credential: %w", err)
		}
	}
	return nil
}

// credentialOnboarding returns the credential states a user passes after
// login (registration false) or during registration, as Hanko's
// hanko.passkey/password acquire_on_* settings say: "always" asks for the
// credential when the user has none, "conditional" only when the user has
// neither (both conditional: the credential_onboarding_chooser lets the
// user pick one).
func (h *Handler) credentialOnboarding(c *flow.Context, hasPasskey, hasPassword, registration bool) []string {
	pkMode, pwMode := h.cfg.Passkey.AcquireOnLogin, h.cfg.Password.AcquireOnLogin
	if registration {
		pkMode, pwMode = h.cfg.Passkey.AcquireOnRegistration, h.cfg.Password.AcquireOnRegistration
	}
	pkOn := h.passkeysAvailable(c) && !hasPasskey && !(c.Definition().Kind() != core.FlowRegistration && h.passkeyLimitReached(c))
	pwOn := h.cfg.Password.Enabled && !hasPassword
	if !pkOn {
		pkMode = "never"
	}
	if !pwOn {
		pwMode = "never"
	}
	var out []string
	if pkMode == "always" {
		out = append(out, stateOnboardingCreatePasskey)
	}
	if pwMode == "always" {
		out = append(out, statePasswordCreation)
	}
	if len(out) > 0 || hasPasskey || hasPassword {
		// A conditional credential is asked for only from a user who has
		// none and is not being asked for one anyway.
		return out
	}
	switch {
	case pkMode == "conditional" && pwMode == "conditional":
		return []string{stateCredentialOnboardingChooser}
	case pkMode == "conditional":
		return []string{stateOnboardingCreatePasskey}
	case pwMode == "conditional":
		return []string{statePasswordCreation}
	}
	return out
}

// WebauthnCredentialsJSON converts stored credentials to Hanko's shape,
// passkeys and security keys apart.
func webauthnJSON(list []core.WebAuthnCredential) (passkeys, securityKeys []WebauthnCredentialJSON) {
	for _, c := range list {
		j := webauthnCredentialJSON(c)
		if c.MFAOnly {
			securityKeys = append(securityKeys, j)
		} else {
			passkeys = append(passkeys, j)
		}
	}
	return passkeys, securityKeys
}

func webauthnCredentialJSON(c core.WebAuthnCredential) WebauthnCredentialJSON {
	aaguid := uuid.Nil.String()
	if u, err := uuid.FromBytes(c.AAGUID); err == nil {
		aaguid = u.String()
	}
	tr := c.Transports
	if tr == nil {
		tr = []string{}
	}
	return WebauthnCredentialJSON{ID: c.ID, Name: c.DisplayName, PublicKey: base64.RawURLEncoding.EncodeToString(c.PublicKey),
		AttestationType: c.AttestationType, AAGUID: aaguid, LastUsedAt: c.LastUsedAt, CreatedAt: c.CreatedAt,
		Transports: tr, BackupEligible: c.BackupEligible, BackupState: c.BackupState, MFAOnly: c.MFAOnly}
}

// webauthnCredentials reads the user's WebAuthn credentials through q.
func webauthnCredentials(ctx context.Context, q store.WebAuthnCredentials, id string) ([]core.WebAuthnCredential, error) {
	list, err := q.ListWebAuthnCredentials(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list webauthn credentials: %w", err)
	}
	return list, nil
}

// hasPasskey reports whether the user has a passkey (outside a step).
func (h *Handler) hasPasskey(id string) bool {
	list, err := h.store.ListWebAuthnCredentials(context.Background(), id)
	return err == nil && len(passkeysOf(list)) > 0
}

// acquireModes returns hanko.passkey's and hanko.password's acquire_on_*
// setting for the flow's kind.
func (h *Handler) acquireModes(c *flow.Context) (passkey, password string) {
	if c.Definition().Kind() == core.FlowRegistration {
		return h.cfg.Passkey.AcquireOnRegistration, h.cfg.Password.AcquireOnRegistration
	}
	return h.cfg.Passkey.AcquireOnLogin, h.cfg.Password.AcquireOnLogin
}

// flowHasPassword reports whether the flow's user has (or, registering,
// has chosen) a password.
func (h *Handler) flowHasPassword(c *flow.Context) bool {
	if c.Definition().Kind() == core.FlowRegistration {
		return keyPasswordHash.Has(c.Stash())
	}
	i, err := h.flowUser(c)
	return err == nil && passwordJSON(i) != nil
}

// flowHasPasskey reports whether the flow's user has (or, registering,
// has created) a passkey.
func (h *Handler) flowHasPasskey(c *flow.Context) bool {
	if c.Definition().Kind() == core.FlowRegistration {
		return keyNewPasskey.Has(c.Stash())
	}
	return len(h.userPasskeys(c, userIDOf(c))) > 0
}

// skipPasskey is onboarding_create_passkey's skip: as Hanko, a user who
// skips the passkey is asked for a password when passwords are acquired
// "conditional" and the user has none.
func (h *Handler) skipPasskey(c *flow.ActionContext) error {
	b := c.Base()
	if _, pw := h.acquireModes(b); pw == "conditional" && h.cfg.Password.Enabled && !h.flowHasPassword(b) &&
		!slices.Contains(b.Scheduled(), statePasswordCreation) && !keySkipRedirected.Has(b.Stash()) {
		keySkipRedirected.Set(b.Stash(), true) // once: skipping both ends the onboarding
		return c.Continue(statePasswordCreation)
	}
	return c.Continue()
}

// skipPassword is password_creation's skip: a user who skips the password
// is asked for a passkey when passkeys are acquired "conditional", the
// browser can create one and the user has none.
func (h *Handler) skipPassword(c *flow.ActionContext) error {
	b := c.Base()
	if pk, _ := h.acquireModes(b); pk == "conditional" && h.passkeysAvailable(b) && !h.flowHasPasskey(b) &&
		!slices.Contains(b.Scheduled(), stateOnboardingCreatePasskey) && !keySkipRedirected.Has(b.Stash()) {
		keySkipRedirected.Set(b.Stash(), true) // once: skipping both ends the onboarding
		return c.Continue(stateOnboardingCreatePasskey)
	}
	return c.Continue()
}
