package hanko

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/ratelimit"
)

// Second factors in the Hanko flows (hanko.mfa): authenticator apps
// (method/totp, the same secret the Kratos face's totp method uses), asked
// for after a password or passcode login (login_otp), set up in the profile
// or when registration and login offer it (mfa_method_chooser →
// mfa_otp_secret_creation). A code is accepted once on either face.

// Stash keys of the TOTP states.
var (
	// keyOTPPending is the key mfa_otp_secret_creation offers, sealed to
	// the flow (pendingBinding); the secret and QR code are rendered from
	// it, never stored in the clear.
	keyOTPPending = flow.NewStickyKey[[]byte]("mfa_otp_pending")
	// keyOTPConfirmed is a key whose first code was verified during a
	// registration, stored with the user when it is created.
	keyOTPConfirmed = flow.NewStickyKey[[]byte]("mfa_otp_confirmed")
)

// pendingBinding is what a key offered in a flow is sealed to before it
// belongs to a user.
func pendingBinding(flowID string) string { return "flow:" + flowID }

// totpOn reports whether authenticator apps are offered.
func (h *Handler) totpOn() bool { return h.cfg.MFA.Enabled && h.cfg.MFA.TOTP.Enabled && h.totp != nil }

// hasOTP reports whether the user has an authenticator app set up.
func hasOTP(i *core.Identity) bool {
	_, ok := i.Credential(core.CredentialTOTP)
	return ok
}

// loginMFA returns the states a user passes after a first factor other than
// a passkey, before the onboarding states, as Hanko's
// ScheduleOnboardingStates: login_security_key for a user with a security
// key the client can use (also when an authenticator app is set up: both
// states offer to switch), else login_otp for a user with an authenticator
// app, else mfa_method_chooser when login acquires a second factor.
func (h *Handler) loginMFA(c *flow.Context, i *core.Identity) []string {
	if !h.cfg.MFA.Enabled {
		return nil
	}
	keys := len(h.userSecurityKeys(c, i.ID)) > 0
	switch {
	case h.skOn() && keys && h.skUsable(c):
		return []string{stateLoginSecurityKey}
	case h.totpOn() && hasOTP(i):
		return []string{stateLoginOTP}
	case h.skOn() && keys:
		// The client said it cannot use the user's kind of key (a
		// platform-only configuration and no platform authenticator)
		// and there is no authenticator app to fall back to: the key
		// is still asked for. What a client reports about itself never
		// lets a login skip a second factor the user has.
		return []string{stateLoginSecurityKey}
	case h.cfg.MFA.AcquireOnLogin && !keys && !hasOTP(i) && h.mfaCreationOffered(c):
		return []string{stateMFAMethodChooser}
	}
	return nil
}

// mfaSubFlows declares the states of second factors.
func (h *Handler) mfaSubFlows() []*flow.SubFlow {
	back := flow.BackAction("back", "Navigate one step back.")
	skip := flow.Action{Name: "skip", Description: "Skip", Execute: func(c *flow.ActionContext) error { return c.Continue() }}
	skipOptional := skip
	skipOptional.Suspended = func(*flow.Context) bool { return !h.cfg.MFA.Optional }
	otpCode := flow.Input{Name: "otp_code", Type: flow.TypeString, Required: true, TrimSpace: true}
	webAuthnOff := func(c *flow.Context) bool {
		caps := capabilitiesOf(c)
		return !caps.WebAuthn
	}
	return []*flow.SubFlow{
		flow.NewSubFlow("mfa_creation").
			State(stateMFAMethodChooser,
				flow.Action{Name: "continue_to_otp_secret_creation", Description: "Create an OTP secret",
					Suspended: func(*flow.Context) bool { return !h.totpOn() },
					Execute:   func(c *flow.ActionContext) error { return c.Continue(stateMFAOTPSecretCreation) }},
				flow.Action{Name: "continue_to_security_key_creation", Description: "Create a security key",
					Suspended: func(c *flow.Context) bool { return !h.skAvailable(c) },
					Execute:   func(c *flow.ActionContext) error { return c.Continue(stateMFASecurityKeyCreation) }},
				skipOptional, back).
			State(stateMFAOTPSecretCreation,
				flow.Action{Name: "otp_code_verify", Description: "Verify an OTP code",
					Inputs: []flow.Input{otpCode}, Execute: h.otpCodeVerify},
				back).
			State(stateMFASecurityKeyCreation,
				flow.Action{Name: "webauthn_generate_creation_options", Description: "Get WebAuthn creation options to register a WebAuthn credential.",
					Suspended: webAuthnOff,
					Execute:   h.generateSecurityKeyCreationOptions(stateOnboardingVerifyPasskeyAttestaion)},
				back).
			Hook(flow.BeforeState(stateMFAOTPSecretCreation, h.offerOTPSecret)),
		flow.NewSubFlow("mfa_usage").
			State(stateLoginSecurityKey,
				flow.Action{Name: "webauthn_generate_request_options", Description: "Get webauthn request options in order to sign in with a webauthn credential.",
					Suspended: webAuthnOff,
					Execute:   h.generateSecurityKeyRequestOptions},
				flow.Action{Name: "continue_to_login_otp", Description: "Continues the flow to the OTP login.",
					Suspended: func(c *flow.Context) bool { return !h.totpOn() || !h.flowUserHasOTP(c) },
					Execute:   func(c *flow.ActionContext) error { return c.Continue(stateLoginOTP) }}).
			State(stateLoginOTP,
				flow.Action{Name: "otp_code_validate", Description: "Validate an OTP code",
					Inputs: []flow.Input{otpCode}, Execute: h.otpCodeValidate},
				flow.Action{Name: "continue_to_login_security_key", Description: "Continues the flow to the security key login.",
					Suspended: func(c *flow.Context) bool {
						return !h.skOn() || !h.skUsable(c) || len(h.userSecurityKeys(c, userIDOf(c))) == 0
					},
					Execute: func(c *flow.ActionContext) error { return c.Continue(stateLoginSecurityKey) }}),
		flow.NewSubFlow("device_trust").
			State(stateDeviceTrust,
				flow.Action{Name: "trust_device", Description: "Trust this device.", Execute: h.trustDevice},
				skip, back),
	}
}

// errPlatformAuthenticatorRequired is Hanko's answer when a second factor
// must be set up (hanko.mfa.optional: false) but the client can be offered
// none: authenticator apps are off and it cannot create a security key.
var errPlatformAuthenticatorRequired = &flowError{http.StatusUnauthorized, "platform_authenticator_required", "A platform authenticator is required."}

func init() {
	flowErrorsByMessage[errPlatformAuthenticatorRequired.message] = errPlatformAuthenticatorRequired
}

// mfaSetupImpossible reports whether a flow that acquires a second factor
// (acquire: hanko.mfa.acquire_on_login or _on_registration) must refuse to
// go on, as Hanko's ScheduleMFACreationStates does: one is required
// (hanko.mfa.optional: false; mfa_method_chooser then has no skip) and
// mfa_method_chooser has nothing to offer this client.
func (h *Handler) mfaSetupImpossible(c *flow.Context, acquire bool) bool {
	return h.cfg.MFA.Enabled && !h.cfg.MFA.Optional && acquire && !h.mfaCreationOffered(c)
}

// flowUserHasOTP reports whether the login's user has an authenticator app.
func (h *Handler) flowUserHasOTP(c *flow.Context) bool {
	id := userIDOf(c)
	if id == "" {
		return false
	}
	var (
		i   *core.Identity
		err error
	)
	if c.Tx() != nil {
		i, err = c.Tx().GetIdentity(c.Context(), id)
	} else {
		i, err = h.store.GetIdentity(c.Context(), id)
	}
	return err == nil && hasOTP(i)
}

// offerOTPSecret is the BeforeState hook of mfa_otp_secret_creation: a new
// key, sealed into the stash (writeFlowResult renders its secret and QR
// code into the payload).
func (h *Handler) offerOTPSecret(c *flow.Context) error {
	if !h.totpOn() {
		return flow.Refuse(errOperationNotPermitted.core())
	}
	account, _ := keyEmail.Get(c.Stash())
	if account == "" {
		account, _ = keyUsername.Get(c.Stash())
	}
	if i := h.profileOrFlowUser(c); i != nil {
		if e := userPrimaryEmail(i); e != "" {
			account = e
		} else if u := traitsOf(i).Username; u != "" {
			account = u
		}
	}
	k, err := h.totp.Generate(account)
	if err != nil {
		return err
	}
	sealed, err := h.totp.Seal(pendingBinding(c.FlowID()), k)
	if err != nil {
		return err
	}
	keyOTPPending.Set(c.Stash(), sealed)
	return nil
}

// profileOrFlowUser returns the user a flow is about, or nil before there
// is one (registration).
func (h *Handler) profileOrFlowUser(c *flow.Context) *core.Identity {
	if c.IdentityID() == "" {
		if id, _ := keyUserID.Get(c.Stash()); id == "" {
			return nil
		}
	}
	i, err := h.flowUser(c)
	if err != nil {
		return nil
	}
	return i
}

// otpPayload renders the offered key of mfa_otp_secret_creation.
func (h *Handler) otpPayload(flowID string, st *flow.Stash, payload map[string]any) error {
	sealed, ok := keyOTPPending.Get(st)
	if !ok || h.totp == nil {
		return nil
	}
	k, err := h.totp.Open(pendingBinding(flowID), sealed)
	if err != nil {
		return fmt.Errorf("open offered OTP key: %w", err)
	}
	img, err := k.ImageDataURL()
	if err != nil {
		return err
	}
	payload["otp_secret"] = k.Secret()
	payload["otp_image_source"] = img
	return nil
}

// errOTPInvalid is Hanko's answer to a wrong OTP code: passcode_invalid as
// the flow's error (hanko-elements clears its code boxes on it) and on the
// otp_code input.
var errOTPInvalid = &flowError{http.StatusBadRequest, codePasscodeInvalid, "The OTP code is invalid."}

func init() { flowErrorsByMessage[errOTPInvalid.message] = errOTPInvalid }

// otpAttemptError maps a refused or wrong code to the flow's answer: a
// wrong code is passcode_invalid, a replayed one form_data_invalid_error (as
// Hanko answers a code used before), both with passcode_invalid on otp_code.
func otpAttemptError(c *flow.ActionContext, err error) error {
	var ex *ratelimit.ExceededError
	switch {
	case errors.As(err, &ex):
		c.Base().SetPayload("retry_after", seconds(ex.RetryAfter))
		return c.Error(errRateLimitExceeded.core())
	case errors.Is(err, totp.ErrInvalid):
		return c.Error(errors.Join(errOTPInvalid.core(), inputErr("otp_code", codePasscodeInvalid)))
	case errors.Is(err, totp.ErrReplayed):
		return c.Error(errors.Join(errFormDataInvalid.core(), inputErr("otp_code", codePasscodeInvalid)))
	}
	return err
}

// otpCodeVerify checks the first code of the offered key and stores the key
// with the user (in a registration: when the user is created at success).
// The code's time step is claimed, so it cannot log in afterwards.
func (h *Handler) otpCodeVerify(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	sealed, ok := keyOTPPending.Get(b.Stash())
	if !ok || !h.totpOn() {
		return c.Error(errOperationNotPermitted.core())
	}
	k, err := h.totp.Open(pendingBinding(b.FlowID()), sealed)
	if err != nil {
		return fmt.Errorf("open offered OTP key: %w", err)
	}
	i := h.profileOrFlowUser(b)
	owner := pendingBinding(b.FlowID())
	if i != nil {
		owner = i.ID
	}
	if err := h.totp.Check(ctx, h.attempts.In(tx), tx, owner, k, c.String("otp_code"), clientIP(b)); err != nil {
		return otpAttemptError(c, err)
	}
	keyOTPPending.Delete(b.Stash())
	if i == nil {
		keyOTPConfirmed.Set(b.Stash(), sealed)
		return c.Continue()
	}
	if err := h.storeOTP(b, i.ID, k); err != nil {
		return err
	}
	return c.Continue()
}

// storeOTP stores k as the user's authenticator app.
func (h *Handler) storeOTP(c *flow.Context, userID string, k *totp.Key) error {
	cfg, err := h.totp.Seal(userID, k)
	if err != nil {
		return err
	}
	i, err := h.ids.WithTx(c.Tx()).PutSecondFactor(c.Context(), userID, core.CredentialTOTP, cfg)
	if err != nil {
		return fmt.Errorf("store OTP secret: %w", err)
	}
	h.audit(c, AuditOTPCreated, userID, userPrimaryEmail(i), nil, true)
	return nil
}

// storeConfirmedOTP stores the key a registration verified with the user
// it just created.
func (h *Handler) storeConfirmedOTP(c *flow.Context, userID string) error {
	sealed, ok := keyOTPConfirmed.Get(c.Stash())
	if !ok || h.totp == nil {
		return nil
	}
	k, err := h.totp.Open(pendingBinding(c.FlowID()), sealed)
	if err != nil {
		return fmt.Errorf("open confirmed OTP key: %w", err)
	}
	keyOTPConfirmed.Delete(c.Stash())
	return h.storeOTP(c, userID, k)
}

// otpCodeValidate is login_otp's second factor: a code of the user's
// authenticator app, once per code on either face.
func (h *Handler) otpCodeValidate(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	cred, ok := i.Credential(core.CredentialTOTP)
	if !ok || !h.totpOn() {
		return c.Error(errOperationNotPermitted.core())
	}
	k, err := h.totp.Open(i.ID, cred.Config)
	if err != nil {
		return fmt.Errorf("open OTP key: %w", err)
	}
	if err := h.totp.Check(ctx, h.attempts.In(tx), tx, i.ID, k, c.String("otp_code"), clientIP(b)); err != nil {
		return otpAttemptError(c, err)
	}
	authenticated(b, i.ID, AMRTOTP)
	h.secondFactorPassed(b)
	return c.Continue()
}

// otpSecretDelete is the profile's otp_secret_delete: the authenticator app
// goes, and with it every session's claim to it.
func (h *Handler) otpSecretDelete(c *flow.ActionContext) error {
	b := c.Base()
	i := h.profileUser(b)
	if i == nil || !hasOTP(i) {
		return c.Error(errOperationNotPermitted.core())
	}
	if err := h.ids.WithTx(b.Tx()).DeleteCredential(b.Context(), i.ID, core.CredentialTOTP, ""); err != nil {
		return fmt.Errorf("delete OTP secret: %w", err)
	}
	requestOf(b.Context()).user = nil
	return c.Continue(stateProfileInit)
}
