package hanko

import (
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// The registration flow (Hanko's NewRegistrationFlow): preflight →
// registration_init → passcode_confirmation (e-mail verification) →
// credential onboarding (password_creation) → success. As in Hanko the user
// is created only at the very end, in success's BeforeState hook, in the
// same transaction as the last step.

// registrationDefinition builds the registration flow.
func (h *Handler) registrationDefinition() (*flow.Definition, error) {
	tpState, tpActions := h.thirdPartyState()
	return flow.New("registration").Kind(core.FlowRegistration).TTL(flowTTL).
		InitialState(statePreflight, stateRegistrationInit).
		ErrorState(stateError).
		EndState(stateSuccess).
		SubFlow(capabilitiesSubFlow(), h.passcodeSubFlow(), h.credentialOnboardingSubFlow(), h.userDetailsSubFlow()).
		SubFlow(h.mfaSubFlows()...).
		State(stateRegistrationInit,
			flow.Action{
				Name:        "register_login_identifier",
				Description: "Enter an identifier to register.",
				Inputs:      h.registrationInputs(),
				Suspended:   func(*flow.Context) bool { return !h.cfg.Account.AllowSignup },
				Execute:     h.registerLoginIdentifier,
			},
			h.rememberMeAction(),
			h.thirdPartyAction(),
		).
		State(tpState, tpActions...).
		Hook(flow.BeforeState(stateSuccess, h.createRegisteredUser)).
		Build()
}

// registrationInputs declares register_login_identifier's inputs.
func (h *Handler) registrationInputs() []flow.Input {
	var in []flow.Input
	if h.cfg.Email.Enabled && h.cfg.Email.AcquireOnRegistration {
		e := h.emailInput()
		e.Required = !h.cfg.Email.Optional
		in = append(in, e)
	}
	if h.cfg.Username.Enabled && h.cfg.Username.AcquireOnRegistration {
		in = append(in, h.usernameInput(!h.cfg.Username.Optional))
	}
	return in
}

// registerLoginIdentifier checks the identifiers and schedules e-mail
// verification and password creation. A username that is taken is refused;
// an e-mail address that is taken is refused only when addresses are not
// verified, else the "verification" mail is an
// email_registration_attempted notice and the flow cannot go on, so the
// answer does not reveal the account.
func (h *Handler) registerLoginIdentifier(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	email := schema.Normalize(core.ViaEmail, c.String("email"))
	username := c.String("username")
	if email == "" && username == "" {
		return c.Error(errFormDataInvalid.core())
	}
	if username != "" {
		if _, err := tx.FindIdentityByIdentifier(ctx, core.CredentialPassword, username); err == nil {
			return c.Error(inputErr("username", codeUsernameAlreadyExists))
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up username: %w", err)
		}
	}
	taken := false
	if email != "" {
		_, err := tx.FindIdentityByAddress(ctx, core.ViaEmail, email)
		switch {
		case err == nil:
			taken = true
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("look up e-mail: %w", err)
		}
		if taken && (!h.cfg.Email.RequireVerification || h.cfg.Privacy.ShowAccountExistenceHints) {
			return c.Error(inputErr("email", codeEmailAlreadyExists))
		}
	}
	if h.mfaSetupImpossible(b, h.cfg.MFA.AcquireOnRegistration) {
		return c.Error(errPlatformAuthenticatorRequired.core())
	}
	keyEmail.Set(b.Stash(), email)
	keyUsername.Set(b.Stash(), username)
	var next []string
	if email != "" && h.cfg.Email.RequireVerification {
		if err := h.startPasscodeFor(b, passcodeEmailVerification, email, !taken); err != nil {
			return c.Error(err)
		}
		next = append(next, statePasscodeConfirmation)
	}
	next = append(next, h.credentialOnboarding(b, false, false, true)...)
	if h.cfg.MFA.AcquireOnRegistration && h.mfaCreationOffered(b) {
		next = append(next, stateMFAMethodChooser)
	}
	return c.Continue(append(next, stateSuccess)...)
}

// createRegisteredUser is the BeforeState hook of the registration's
// success: it creates the user from the stash through the identity service
// (schema validation, identifiers), marks the verified address, and queues
// user.create.
func (h *Handler) createRegisteredUser(c *flow.Context) error {
	ctx, st := c.Context(), c.Stash()
	if id, _ := keyUserID.Get(st); id != "" {
		return nil // a third-party sign-in created or found the user already
	}
	email, _ := keyEmail.Get(st)
	username, _ := keyUsername.Get(st)
	hash, _ := keyPasswordHash.Get(st)
	verified, _ := keyEmailVerified.Get(st)
	raw, err := withTraits(nil, traits{Email: email, Username: username})
	if err != nil {
		return fmt.Errorf("encode traits: %w", err)
	}
	// Another registration may have taken the address or the username
	// since register_login_identifier checked them. Look again before
	// writing anything, so the step can be refused cleanly; a registration
	// that passes this check but loses the race at the insert fails with
	// store.ErrConflict, and the engine runs the step once more, which then
	// ends here. Refusing names the address even without existence hints:
	// with verification on the user has proved the mailbox is theirs, and
	// without it the configuration allows hints (config refuses the other
	// combination).
	if email != "" {
		if _, err := c.Tx().FindIdentityByAddress(ctx, core.ViaEmail, email); err == nil {
			return flow.Refuse(errEmailTaken.core())
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up e-mail: %w", err)
		}
	}
	if username != "" {
		if _, err := c.Tx().FindIdentityByIdentifier(ctx, core.CredentialPassword, username); err == nil {
			return flow.Refuse(errUsernameTaken.core())
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up username: %w", err)
		}
	}
	if err := h.newPasskeyTaken(c); err != nil {
		return err
	}
	d := identity.Draft{Traits: raw}
	if keyNewPasskey.Has(st) || keyNewSecurityKey.Has(st) {
		// The credential's user handle was derived from this id.
		d.ID, _ = keyNewUserID.Get(st)
	}
	if hash != "" {
		d.Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: hash}}
	}
	i, err := h.ids.WithTx(c.Tx()).Create(ctx, d)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if verified {
		markVerified(i, email, h.now().UTC())
	}
	for n := range i.Addresses {
		if a := &i.Addresses[n]; a.Via == core.ViaEmail && a.Value == email {
			a.Primary = true
		}
	}
	if err := c.Tx().UpdateIdentity(ctx, i); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if err := h.storeConfirmedOTP(c, i.ID); err != nil {
		return err
	}
	passkey, err := h.storeNewPasskey(c, i.ID)
	if err != nil {
		return err
	}
	securityKey, err := h.storeNewSecurityKey(c, i.ID)
	if err != nil {
		return err
	}
	var amr []string
	if passkey {
		amr = append(amr, AMRPasskey)
	}
	if verified {
		amr = append(amr, AMRPasscode)
	}
	if hash != "" {
		amr = append(amr, AMRPassword)
	}
	if len(amr) == 0 {
		amr = []string{AMRPasscode} // registration without any credential: the session stands for the sign-up itself
	}
	for _, m := range amr {
		authenticated(c, i.ID, m)
	}
	h.audit(c, AuditUserCreated, i.ID, email, nil, true)
	if passkey {
		h.audit(c, AuditPasskeyCreated, i.ID, email, nil, true)
	}
	if securityKey {
		h.audit(c, AuditSecurityKeyCreated, i.ID, email, nil, true)
	}
	if err := h.emitUser(ctx, c.Tx(), EventUserCreate, i); err != nil {
		return fmt.Errorf("queue user.create: %w", err)
	}
	return nil
}
