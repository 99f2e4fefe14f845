package hanko

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// The states of Hanko's flows (backend/flow_api/flow/shared/const_states.go).
// Every state the seed lists exists in the definitions; those of methods
// Latchkey does not offer yet (passkeys, security keys, TOTP, third-party
// providers) are reachable only through actions that stay suspended until
// the method is configured.
const (
	statePreflight                         = "preflight"
	stateLoginInit                         = "login_init"
	stateLoginMethodChooser                = "login_method_chooser"
	stateLoginPassword                     = "login_password"
	stateLoginPasswordRecovery             = "login_password_recovery"
	stateLoginPasskey                      = "login_passkey"
	stateLoginOTP                          = "login_otp"
	stateLoginSecurityKey                  = "login_security_key"
	statePasscodeConfirmation              = "passcode_confirmation"
	statePasswordCreation                  = "password_creation"
	stateCredentialOnboardingChooser       = "credential_onboarding_chooser"
	stateOnboardingEmail                   = "onboarding_email"
	stateOnboardingUsername                = "onboarding_username"
	stateOnboardingCreatePasskey           = "onboarding_create_passkey"
	stateOnboardingVerifyPasskeyAttestaion = "onboarding_verify_passkey_attestation"
	stateMFAMethodChooser                  = "mfa_method_chooser"
	stateMFAOTPSecretCreation              = "mfa_otp_secret_creation"
	stateMFASecurityKeyCreation            = "mfa_security_key_creation"
	stateDeviceTrust                       = "device_trust"
	stateThirdParty                        = "thirdparty"
	stateRegistrationInit                  = "registration_init"
	stateProfileInit                       = "profile_init"
	stateWebauthnCredentialVerification    = "webauthn_credential_verification"
	stateAccountDeleted                    = "account_deleted"
	stateSuccess                           = "success"
	stateError                             = "error"
)

// Stash keys shared by the flows. Each flow reads and writes only what its
// actions need; the passcode keys live in passcode.go.
var (
	// keyUserID is the user the flow is about (once known).
	keyUserID = flow.NewKey[string]("user_id")
	// keyEmail is the e-mail address entered (login identifier or
	// registration address).
	keyEmail = flow.NewKey[string]("email")
	// keyUsername is the username entered at login or registration.
	keyUsername = flow.NewKey[string]("username")
	// keyAMR lists the authentication methods completed, in order.
	keyAMR = flow.NewKey[[]string]("amr")
	// keyRememberMe is remember_me's choice (cookie retention "prompt").
	keyRememberMe = flow.NewKey[bool]("remember_me")
	// keyCapabilities is what register_client_capabilities reported.
	keyCapabilities = flow.NewKey[clientCapabilities]("client_capabilities")
	// keyPasswordHash is the hash of the password chosen during
	// registration, stored with the user at success (never the password).
	keyPasswordHash = flow.NewKey[string]("new_password_hash")
	// keyEmailVerified says the registration address was verified.
	keyEmailVerified = flow.NewKey[bool]("email_verified")
	// keyRecoveryVerified says a recovery passcode was confirmed, so
	// login_password_recovery may set a new password.
	keyRecoveryVerified = flow.NewKey[bool]("password_recovery_verified")
)

// clientCapabilities is the input of register_client_capabilities.
type clientCapabilities struct {
	WebAuthn                   bool `json:"webauthn_available"`
	ConditionalMediation       bool `json:"webauthn_conditional_mediation_available"`
	PlatformAuthenticatorAvail bool `json:"webauthn_platform_authenticator_available"`
}

// capabilitiesOf returns what register_client_capabilities stored in the
// flow (zero when nothing). The passkey and security key predicates ask for
// it many times while one response is rendered: the request keeps the
// value it decoded with the bytes it decoded it from, and decodes again
// only when the stored bytes differ.
func capabilitiesOf(c *flow.Context) clientCapabilities {
	raw, ok := keyCapabilities.Raw(c.Stash())
	if !ok {
		return clientCapabilities{}
	}
	fr := requestOf(c.Context())
	if fr.caps.raw != nil && bytes.Equal(fr.caps.raw, raw) {
		return fr.caps.value
	}
	caps, ok := keyCapabilities.Get(c.Stash())
	if ok { // a value that does not decode fails every stash it is read from
		fr.caps.raw, fr.caps.value = raw, caps
	}
	return caps
}

// capabilitiesSubFlow is Hanko's capabilities sub-flow: the client says what
// WebAuthn support it has.
func capabilitiesSubFlow() *flow.SubFlow {
	return flow.NewSubFlow("capabilities").State(statePreflight, flow.Action{
		Name:        "register_client_capabilities",
		Description: "Send the computer capabilities.",
		Inputs: []flow.Input{
			{Name: "webauthn_available", Type: flow.TypeBoolean, Required: true, Hidden: true},
			{Name: "webauthn_conditional_mediation_available", Type: flow.TypeBoolean, Hidden: true},
			{Name: "webauthn_platform_authenticator_available", Type: flow.TypeBoolean, Hidden: true},
		},
		Execute: func(c *flow.ActionContext) error {
			keyCapabilities.Set(c.Base().Stash(), clientCapabilities{
				WebAuthn:                   c.Bool("webauthn_available"),
				ConditionalMediation:       c.Bool("webauthn_conditional_mediation_available"),
				PlatformAuthenticatorAvail: c.Bool("webauthn_platform_authenticator_available"),
			})
			return c.Continue()
		},
	})
}

// rememberMeAction is offered with cookie retention "prompt".
func (h *Handler) rememberMeAction() flow.Action {
	return flow.Action{
		Name:        "remember_me",
		Description: "Show a remember me checkbox.",
		Inputs:      []flow.Input{{Name: "remember_me", Type: flow.TypeBoolean, Required: true}},
		Suspended:   func(*flow.Context) bool { return h.cfg.Session.Cookie.Retention != "prompt" },
		Execute: func(c *flow.ActionContext) error {
			keyRememberMe.Set(c.Base().Stash(), c.Bool("remember_me"))
			return c.Continue(c.Base().State())
		},
	}
}

// credentialOnboardingSubFlow asks for credentials after login or during
// registration. Only passwords exist yet; the passkey states are declared
// for the WebAuthn method.
func (h *Handler) credentialOnboardingSubFlow() *flow.SubFlow {
	back := flow.BackAction("back", "Navigate one step back.")
	return flow.NewSubFlow("credential_onboarding").
		State(stateCredentialOnboardingChooser,
			flow.Action{Name: "continue_to_passkey_registration", Description: "Create a passkey.",
				Suspended: func(c *flow.Context) bool { return !h.passkeysAvailable(c) },
				Execute:   func(c *flow.ActionContext) error { return c.Continue(stateOnboardingCreatePasskey) }},
			flow.Action{Name: "continue_to_password_registration", Description: "Set a password.",
				Suspended: func(*flow.Context) bool { return !h.cfg.Password.Enabled },
				Execute:   func(c *flow.ActionContext) error { return c.Continue(statePasswordCreation) }},
			h.skipAction(func(*flow.Context) bool { return !h.cfg.Password.Optional }),
			back).
		State(stateOnboardingCreatePasskey,
			flow.Action{Name: "webauthn_generate_creation_options", Description: "Get creation options to create a webauthn credential.",
				Suspended: func(c *flow.Context) bool { return !h.passkeysAvailable(c) },
				Execute:   h.generateCreationOptions(stateOnboardingVerifyPasskeyAttestaion)},
			flow.Action{Name: "skip", Description: "Skip", Execute: h.skipPasskey}, back).
		State(stateOnboardingVerifyPasskeyAttestaion,
			flow.Action{Name: "webauthn_verify_attestation_response", Description: "Send the result which was generated by creating a webauthn credential.",
				Inputs:    []flow.Input{{Name: "public_key", Type: flow.TypeJSON, Required: true, Hidden: true}},
				Suspended: func(c *flow.Context) bool { return !h.attestationAvailable(c) },
				Execute:   h.verifyAttestation("")},
			back).
		State(statePasswordCreation, flow.Action{
			Name:        "register_password",
			Description: "Submit a new password.",
			Inputs:      []flow.Input{h.newPasswordInput("new_password")},
			Prepare:     h.prepareNewPassword("new_password"),
			Execute:     h.registerPassword,
		}, flow.Action{Name: "skip", Description: "Skip",
			Suspended: func(*flow.Context) bool { return !h.cfg.Password.Optional }, Execute: h.skipPassword}, back)
}

// skipAction continues with the next scheduled state; suspended, when not
// nil, hides it.
func (h *Handler) skipAction(suspended func(*flow.Context) bool) flow.Action {
	return flow.Action{Name: "skip", Description: "Skip", Suspended: suspended,
		Execute: func(c *flow.ActionContext) error { return c.Continue() }}
}

// newPasswordInput declares an input for a password being set.
func (h *Handler) newPasswordInput(name string) flow.Input {
	return flow.Input{Name: name, Type: flow.TypePassword, Required: true, MinLength: h.cfg.Password.MinLength,
		MaxLength: h.policy.MaxLength}
}

// registerPassword sets the password chosen in password_creation: on the
// user (login onboarding) or in the stash until the user is created
// (registration).
func (h *Handler) registerPassword(c *flow.ActionContext) error {
	pw := c.String("new_password")
	b := c.Base()
	if b.Definition().Kind() == core.FlowRegistration {
		if ierr := h.checkNewPassword(pw); ierr != nil {
			return c.Error(ierr)
		}
		hash, err := h.newPasswordHash(c, pw)
		if err != nil {
			return err
		}
		keyPasswordHash.Set(b.Stash(), hash)
		return c.Continue()
	}
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	if ierr := h.checkNewPassword(pw); ierr != nil {
		return c.Error(ierr)
	}
	if err := h.flowSetPassword(c, i, pw); err != nil {
		return err
	}
	return c.Continue()
}

// checkNewPassword applies the password policy; a violation is reported on
// the input as Hanko does (value_too_short_error / value_invalid_error).
func (h *Handler) checkNewPassword(pw string) error {
	if n := len([]rune(pw)); n < h.cfg.Password.MinLength {
		return inputErr("new_password", flow.CodeValueTooShort)
	}
	if h.policy.MaxLength > 0 && len(pw) > h.policy.MaxLength {
		return inputErr("new_password", flow.CodeValueTooLong)
	}
	return nil
}

// userDetailsSubFlow asks users without a username or e-mail address for one
// (onboarding after login).
func (h *Handler) userDetailsSubFlow() *flow.SubFlow {
	return flow.NewSubFlow("user_details").
		State(stateOnboardingUsername, flow.Action{
			Name:        "username_create",
			Description: "Set a new username.",
			Inputs:      []flow.Input{h.usernameInput(true)},
			Execute: func(c *flow.ActionContext) error {
				i, err := h.flowUser(c.Base())
				if err != nil {
					return err
				}
				if ierr, err := h.flowSetUsername(c.Base(), i, c.String("username")); ierr != nil || err != nil {
					if err != nil {
						return err
					}
					return c.Error(ierr)
				}
				return c.Continue()
			},
		}, h.skipAction(func(*flow.Context) bool { return !h.cfg.Username.Optional })).
		State(stateOnboardingEmail, flow.Action{
			Name:        "email_address_set",
			Description: "Set an email address.",
			Inputs:      []flow.Input{h.emailInput()},
			Execute: func(c *flow.ActionContext) error {
				b := c.Base()
				i, err := h.flowUser(b)
				if err != nil {
					return err
				}
				email := c.String("email")
				if _, err := b.Tx().FindIdentityByAddress(b.Context(), core.ViaEmail, email); err == nil {
					return c.Error(inputErr("email", codeEmailAlreadyExists))
				} else if !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("look up e-mail: %w", err)
				}
				if h.cfg.Email.RequireVerification {
					keyEmail.Set(b.Stash(), email)
					if err := h.startPasscode(b, passcodeEmailVerification, email); err != nil {
						return c.Error(err)
					}
					return c.Continue(statePasscodeConfirmation)
				}
				if err := h.flowAddEmail(b, i, email, false); err != nil {
					return err
				}
				return c.Continue()
			},
		}, h.skipAction(func(*flow.Context) bool { return !h.cfg.Email.Optional }))
}

// usernameInput declares the username input.
func (h *Handler) usernameInput(required bool) flow.Input {
	return flow.Input{Name: "username", Type: flow.TypeString, Required: required, MinLength: h.cfg.Username.MinLength,
		MaxLength: h.cfg.Username.MaxLength, TrimSpace: true, LowerCase: true, Preserve: true}
}

// emailInput declares the e-mail input.
func (h *Handler) emailInput() flow.Input {
	return flow.Input{Name: "email", Type: flow.TypeEmail, Required: true, MaxLength: h.cfg.Email.MaxLength,
		TrimSpace: true, LowerCase: true, Preserve: true}
}

// authenticated records that the user of the flow completed method amr
// (AMRPassword, AMRPasscode …) and forgets the way back behind this point.
func authenticated(c *flow.Context, userID, amr string) {
	keyUserID.Set(c.Stash(), userID)
	c.SetIdentityID(userID)
	list, _ := keyAMR.Get(c.Stash())
	keyAMR.Set(c.Stash(), append(list, amr))
	c.ClearHistory()
}

// loginOnboarding returns the states a user who just logged in passes
// before success, as Hanko's ScheduleOnboardingStates orders them.
func (h *Handler) loginOnboarding(c *flow.Context, i *core.Identity) []string {
	var next []string
	t := traitsOf(i)
	if h.cfg.Username.Enabled && h.cfg.Username.AcquireOnLogin && t.Username == "" {
		next = append(next, stateOnboardingUsername)
	}
	if h.cfg.Email.Enabled && h.cfg.Email.AcquireOnLogin && len(emails(i)) == 0 && t.Email == "" {
		next = append(next, stateOnboardingEmail)
	}
	next = append(next, h.credentialOnboarding(c, len(h.userPasskeys(c, i.ID)) > 0, passwordJSON(i) != nil, false)...)
	return append(next, stateSuccess)
}

// flowUser loads the flow's user inside the step's transaction.
func (h *Handler) flowUser(c *flow.Context) (*core.Identity, error) {
	id, _ := keyUserID.Get(c.Stash())
	if id == "" {
		id = c.IdentityID()
	}
	if id == "" {
		return nil, errors.New("the flow has no user")
	}
	i, err := c.Tx().GetIdentity(c.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	return i, nil
}

// draftOf returns i as a draft with traits t, keeping everything else.
func draftOf(i *core.Identity, t json.RawMessage) identity.Draft {
	return identity.Draft{SchemaID: i.SchemaID, Traits: t, MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin,
		ExternalID: i.ExternalID, OrganizationID: i.OrganizationID}
}

// updateTraits stores i with its Hanko traits changed by edit (through the
// identity service, in the step's transaction) and marks the traits' e-mail
// address primary. It returns the stored identity, or the service's
// *core.Error (CodeConflict when an identifier is taken, CodeInvalid when the
// schema refuses the traits).
func (h *Handler) updateTraits(c *flow.Context, i *core.Identity, edit func(*traits), creds *identity.CredentialsDraft) (*core.Identity, error) {
	t := traitsOf(i)
	edit(&t)
	raw, err := withTraits(i.Traits, t)
	if err != nil {
		return nil, fmt.Errorf("encode traits: %w", err)
	}
	d := draftOf(i, raw)
	d.Credentials = creds
	out, err := h.ids.WithTx(c.Tx()).Update(c.Context(), i.ID, d)
	if err != nil {
		return nil, err
	}
	return h.markPrimary(c, out)
}

// markPrimary makes the traits' e-mail address the only primary one.
func (h *Handler) markPrimary(c *flow.Context, i *core.Identity) (*core.Identity, error) {
	want := schema.Normalize(core.ViaEmail, traitsOf(i).Email)
	changed := false
	for n := range i.Addresses {
		a := &i.Addresses[n]
		if a.Via != core.ViaEmail {
			continue
		}
		if p := a.Value == want; p != a.Primary {
			a.Primary, a.UpdatedAt, changed = p, h.now().UTC(), true
		}
	}
	if !changed {
		return i, nil
	}
	if err := c.Tx().UpdateIdentity(c.Context(), i); err != nil {
		return nil, fmt.Errorf("mark primary e-mail: %w", err)
	}
	return i, nil
}

// flowSetPassword hashes pw and stores it as i's password.
func (h *Handler) flowSetPassword(ac *flow.ActionContext, i *core.Identity, pw string) error {
	c := ac.Base()
	hash, err := h.newPasswordHash(ac, pw)
	if err != nil {
		return err
	}
	_, err = h.updateTraits(c, i, func(*traits) {},
		&identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: hash}})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// flowSetUsername gives i the username u. A taken or invalid username is an
// input error (first result); anything else the second.
func (h *Handler) flowSetUsername(c *flow.Context, i *core.Identity, u string) (error, error) {
	if owner, err := c.Tx().FindIdentityByIdentifier(c.Context(), core.CredentialPassword, u); err == nil {
		if owner.ID != i.ID {
			return inputErr("username", codeUsernameAlreadyExists), nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("look up username: %w", err)
	}
	_, err := h.updateTraits(c, i, func(t *traits) { t.Username = u }, nil)
	if errors.Is(err, identity.ErrTxAborted) {
		return nil, fmt.Errorf("set username: %w", err) // the step must roll back
	}
	switch core.ErrorCode(err) {
	case "":
	case core.CodeConflict:
		return inputErr("username", codeUsernameAlreadyExists), nil
	case core.CodeInvalid:
		return inputErr("username", codeInvalidUsername), nil
	}
	if err != nil && core.ErrorCode(err) != core.CodeConflict && core.ErrorCode(err) != core.CodeInvalid {
		return nil, fmt.Errorf("set username: %w", err)
	}
	return nil, nil
}

// flowAddEmail adds address to i: as the primary one (traits.email) when i has
// none, else as an extra address. verified marks it confirmed by passcode.
func (h *Handler) flowAddEmail(c *flow.Context, i *core.Identity, address string, verified bool) error {
	now := h.now().UTC()
	// Look the address up first: a unique violation inside the step's
	// transaction would abort it on PostgreSQL, turning a taken address
	// into a 500 instead of email_already_exists.
	if owner, err := c.Tx().FindIdentityByAddress(c.Context(), core.ViaEmail, schema.Normalize(core.ViaEmail, address)); err == nil {
		if owner.ID != i.ID {
			return fmt.Errorf("add e-mail: %w", store.ErrConflict)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("add e-mail: look up the address: %w", err)
	}
	if traitsOf(i).Email == "" {
		out, err := h.updateTraits(c, i, func(t *traits) { t.Email = address }, nil)
		if err != nil {
			return fmt.Errorf("add e-mail: %w", err)
		}
		i = out
	} else {
		i.Addresses = append(i.Addresses, core.Address{ID: h.newID(), IdentityID: i.ID, Via: core.ViaEmail,
			Value: schema.Normalize(core.ViaEmail, address), Status: core.AddressPending, CreatedAt: now, UpdatedAt: now})
	}
	if verified {
		markVerified(i, address, now)
	}
	if err := c.Tx().UpdateIdentity(c.Context(), i); err != nil {
		return fmt.Errorf("add e-mail: %w", err)
	}
	return nil
}

// markVerified marks i's address verified.
func markVerified(i *core.Identity, address string, now time.Time) bool {
	address = schema.Normalize(core.ViaEmail, address)
	for n := range i.Addresses {
		a := &i.Addresses[n]
		if a.Via == core.ViaEmail && a.Value == address {
			if !a.Verified {
				a.Verified, a.VerifiedAt, a.Status, a.UpdatedAt = true, &now, core.AddressCompleted, now
			}
			return true
		}
	}
	return false
}

// emailOf returns i's e-mail address with id.
func emailOf(i *core.Identity, id string) (core.Address, bool) {
	for _, a := range i.Addresses {
		if a.Via == core.ViaEmail && strings.EqualFold(a.ID, id) {
			return a, true
		}
	}
	return core.Address{}, false
}

// userPrimaryEmail returns i's primary e-mail address: the one marked
// primary, else the traits' address.
func userPrimaryEmail(i *core.Identity) string {
	if a, ok := primaryEmail(i); ok {
		return a.Value
	}
	return schema.Normalize(core.ViaEmail, traitsOf(i).Email)
}

// preparedHash is a new password hashed before the step's transaction.
type preparedHash struct {
	password string
	hash     string
}

// prepareNewPassword hashes the new password of input before the step's
// transaction begins (flow.PrepareFunc), so the hash (a tenth of a second
// with production argon2id parameters) never holds SQLite's single writer
// or a server transaction. A password the policy refuses is not hashed: the
// step reports it.
func (h *Handler) prepareNewPassword(input string) flow.PrepareFunc {
	return func(p *flow.PrepareContext) (any, error) {
		pw := p.String(input)
		if pw == "" || h.checkNewPassword(pw) != nil {
			return nil, nil
		}
		hash, err := h.hasher.Hash(p.Context(), []byte(pw))
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		return preparedHash{password: pw, hash: hash}, nil
	}
}

// newPasswordHash returns the hash prepareNewPassword made of pw, or hashes
// pw now when the step has none.
func (h *Handler) newPasswordHash(c *flow.ActionContext, pw string) (string, error) {
	if p, ok := c.Prepared().(preparedHash); ok && p.password == pw {
		return p.hash, nil
	}
	hash, err := h.hasher.Hash(c.Context(), []byte(pw))
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}
