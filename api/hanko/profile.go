package hanko

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/store"
)

// The profile flow (Hanko's NewProfileFlow): a signed-in user manages
// e-mail addresses, password, username, metadata, sessions and the account.
// Every action returns to profile_init, whose BeforeState hook reads the
// user again for the actions offered; e-mail verification goes through
// passcode_confirmation first. profile_init's payload, the user and the
// sessions, is read from the store each time the state is rendered
// (profileView), never kept in the flow.

// profileDefinition builds the profile flow.
func (h *Handler) profileDefinition() (*flow.Definition, error) {
	back := flow.BackAction("back", "Navigate one step back.")
	tpState, tpActions := h.thirdPartyState()
	has := func(pred func(i *core.Identity) bool) func(*flow.Context) bool {
		return func(c *flow.Context) bool {
			i := h.profileUser(c)
			return i == nil || !pred(i)
		}
	}
	emailsOn := func(*flow.Context) bool { return !h.cfg.Email.Enabled }
	return flow.New("profile").Kind(core.FlowProfile).TTL(flowTTL).
		InitialState(statePreflight, stateProfileInit).
		ErrorState(stateError).
		EndState(stateAccountDeleted).
		SubFlow(capabilitiesSubFlow(), h.passcodeSubFlow()).
		SubFlow(h.mfaSubFlows()...).
		State(stateProfileInit,
			flow.Action{Name: "account_delete", Description: "Delete an account.",
				Suspended: func(*flow.Context) bool { return !h.cfg.Account.AllowDeletion },
				Execute:   h.accountDelete},
			flow.Action{Name: "email_create", Description: "Create an email address.",
				Inputs: []flow.Input{h.emailInput()}, Suspended: emailsOn, Execute: h.emailCreate},
			// Offered to every signed-in user, as Hanko does: the addresses
			// that may go are the input's allowed values (none for a user
			// with one address), and hanko-profile reads them unguarded.
			flow.Action{Name: "email_delete", Description: "Delete an email address.",
				Inputs:    []flow.Input{emailIDInput()},
				Suspended: has(func(*core.Identity) bool { return true }),
				Execute:   h.emailDelete},
			flow.Action{Name: "email_set_primary", Description: "Set an email address as primary.",
				Inputs:    []flow.Input{emailIDInput()},
				Suspended: has(func(i *core.Identity) bool { return h.cfg.Email.Enabled && len(emails(i)) > 1 }),
				Execute:   h.emailSetPrimary},
			flow.Action{Name: "email_verify", Description: "Verify an email address.",
				Inputs: []flow.Input{emailIDInput()},
				Suspended: has(func(i *core.Identity) bool {
					if !h.cfg.Email.Enabled || h.codes == nil {
						return false
					}
					for _, a := range emails(i) {
						if !a.Verified {
							return true
						}
					}
					return false
				}),
				Execute: h.emailVerify},
			flow.Action{Name: "password_create", Description: "Create a password.",
				Inputs:    []flow.Input{h.profilePasswordInput()},
				Suspended: has(func(i *core.Identity) bool { return h.cfg.Password.Enabled && passwordJSON(i) == nil }),
				Prepare:   h.prepareNewPassword("password"),
				Execute:   h.passwordSet(AuditPasswordSetSucceeded)},
			flow.Action{Name: "password_update", Description: "Update a password.",
				Inputs:    []flow.Input{h.profilePasswordInput()},
				Suspended: has(func(i *core.Identity) bool { return h.cfg.Password.Enabled && passwordJSON(i) != nil }),
				Prepare:   h.prepareNewPassword("password"),
				Execute:   h.passwordSet(AuditPasswordChanged)},
			flow.Action{Name: "password_delete", Description: "Delete a password.",
				Suspended: has(func(i *core.Identity) bool {
					return h.cfg.Password.Enabled && h.cfg.Password.Optional && passwordJSON(i) != nil
				}),
				Execute: h.passwordDelete},
			flow.Action{Name: "username_create", Description: "Set a new username.",
				Inputs:    []flow.Input{h.usernameInput(true)},
				Suspended: has(func(i *core.Identity) bool { return h.cfg.Username.Enabled && traitsOf(i).Username == "" }),
				Execute:   h.usernameSet},
			flow.Action{Name: "username_update", Description: "Update an existing username.",
				Inputs:    []flow.Input{h.usernameInput(true)},
				Suspended: has(func(i *core.Identity) bool { return h.cfg.Username.Enabled && traitsOf(i).Username != "" }),
				Execute:   h.usernameSet},
			flow.Action{Name: "username_delete", Description: "Delete the username.",
				Suspended: has(func(i *core.Identity) bool {
					return h.cfg.Username.Enabled && h.cfg.Username.Optional && traitsOf(i).Username != "" && traitsOf(i).Email != ""
				}),
				Execute: h.usernameDelete},
			flow.Action{Name: "webauthn_credential_create", Description: "Create a WebAuthn credential",
				Suspended: func(c *flow.Context) bool { return !h.passkeysAvailable(c) || h.passkeyLimitReached(c) },
				Execute:   h.generateCreationOptions(stateWebauthnCredentialVerification)},
			flow.Action{Name: "webauthn_credential_rename", Description: "Rename a WebAuthn credential",
				Inputs: []flow.Input{passkeyIDInput(),
					{Name: "passkey_name", Type: flow.TypeString, Required: true, MaxLength: 32, TrimSpace: true}},
				Suspended: func(c *flow.Context) bool {
					return !(h.passkeysOn() && len(h.userPasskeys(c, c.IdentityID())) > 0) &&
						!(h.skOn() && len(h.userSecurityKeys(c, c.IdentityID())) > 0)
				},
				Execute: h.renamePasskey},
			flow.Action{Name: "webauthn_credential_delete", Description: "Delete a WebAuthn credential",
				Inputs: []flow.Input{passkeyIDInput()},
				Suspended: func(c *flow.Context) bool {
					return !(h.passkeysOn() && h.canDeletePasskey(c, h.profileUser(c))) && !h.canDeleteSecurityKey(c)
				},
				Execute: h.deletePasskey},
			flow.Action{Name: "security_key_create", Description: "Get WebAuthn creation options to register a WebAuthn credential.",
				Suspended: func(c *flow.Context) bool { return !h.skAvailable(c) || h.securityKeyLimitReached(c) },
				Execute:   h.generateSecurityKeyCreationOptions(stateWebauthnCredentialVerification)},
			flow.Action{Name: "security_key_delete", Description: "Delete a security key",
				Inputs:    []flow.Input{securityKeyIDInput()},
				Suspended: func(c *flow.Context) bool { return !h.canDeleteSecurityKey(c) },
				Execute:   h.deleteSecurityKey},
			flow.Action{Name: "continue_to_otp_secret_creation", Description: "Create an OTP secret",
				Suspended: has(func(i *core.Identity) bool { return h.totpOn() && !hasOTP(i) }),
				Execute: func(c *flow.ActionContext) error {
					return c.Continue(stateMFAOTPSecretCreation, stateProfileInit)
				}},
			flow.Action{Name: "otp_secret_delete", Description: "Delete an OTP secret",
				Suspended: has(func(i *core.Identity) bool { return h.totpOn() && h.cfg.MFA.Optional && hasOTP(i) }),
				Execute:   h.otpSecretDelete},
			flow.Action{Name: "session_delete", Description: "Delete a session.",
				Inputs:  []flow.Input{{Name: "session_id", Type: flow.TypeString, Required: true, Hidden: true}},
				Execute: h.sessionDelete},
			flow.Action{Name: "patch_metadata", Description: "Patch the user's metadata.",
				Inputs:  []flow.Input{{Name: "patch_metadata", Type: flow.TypeJSON, Required: true}},
				Execute: h.patchUserMetadata},
			h.connectThirdPartyAction(),
			flow.Action{Name: "disconnect_thirdparty_oauth_provider", Description: "Disconnect a third party provider.",
				Inputs:    []flow.Input{{Name: "identity_id", Type: flow.TypeString, Required: true, Hidden: true}},
				Suspended: func(c *flow.Context) bool { return !h.thirdPartyOffered() || !hasLinks(h.profileUser(c)) },
				Execute:   h.disconnectThirdParty},
		).
		State(stateWebauthnCredentialVerification,
			flow.Action{Name: "webauthn_verify_attestation_response", Description: "Send the result which was generated by creating a webauthn credential.",
				Inputs:    []flow.Input{{Name: "public_key", Type: flow.TypeJSON, Required: true, Hidden: true}},
				Suspended: func(c *flow.Context) bool { return !h.attestationAvailable(c) },
				Execute:   h.verifyAttestation(stateProfileInit)},
			back).
		State(tpState, tpActions...).
		Hook(flow.BeforeEachAction(h.checkProfileSession), flow.BeforeState(stateProfileInit, h.refreshProfileUser)).
		Build()
}

// profileAllowedValues fills in the per-user allowed values of
// profile_init's inputs, as Hanko's action initializers do: email_delete's
// email_id lists the addresses the user may delete, session_delete's
// session_id the user's other active sessions. hanko-profile shows a delete
// button only for the listed ids. i is the profile's user (nil: nothing to
// list); sessions are those the payload lists.
func (h *Handler) profileAllowedValues(i *core.Identity, sessions []SessionJSON, actions map[string]actionJSON) {
	if a, ok := actions["email_delete"]; ok && i != nil {
		canPassword := h.cfg.Password.Enabled && passwordJSON(i) != nil
		canPasscode := h.cfg.Email.Enabled && h.cfg.Email.UseForAuthentication
		canPasskey := h.passkeysOn() && h.hasPasskey(i.ID)
		var allowed []flow.AllowedValue
		for _, e := range emails(i) {
			// Another address may go while the user keeps a way to log in.
			// The primary address is never listed: emailDelete refuses it.
			if e.Primary || (!canPassword && !canPasscode && !canPasskey) {
				continue
			}
			allowed = append(allowed, flow.AllowedValue{Value: e.ID, Name: e.Value})
		}
		setAllowed(a, "email_id", allowed)
	}
	if a, ok := actions["session_delete"]; ok {
		var allowed []flow.AllowedValue
		for _, s := range sessions {
			if !s.Current {
				allowed = append(allowed, flow.AllowedValue{Value: s.ID, Name: s.ID})
			}
		}
		setAllowed(a, "session_id", allowed)
	}
}

// setAllowed sets the allowed values of a's input name (a's inputs map is
// shared with the response, so the change lands there).
func setAllowed(a actionJSON, name string, allowed []flow.AllowedValue) {
	if in, ok := a.Inputs[name]; ok {
		in.AllowedValues = allowed
		a.Inputs[name] = in
	}
}

// profilePasswordInput is the input of password_create and password_update.
// Hanko declares max_length 72 (bcrypt's limit) there, and hanko-profile
// formats it into its password hint: without it the profile page fails to
// render.
func (h *Handler) profilePasswordInput() flow.Input {
	in := h.newPasswordInput("password")
	if in.MaxLength == 0 {
		in.MaxLength = password.DefaultMaxLength
	}
	return in
}

func emailIDInput() flow.Input {
	return flow.Input{Name: "email_id", Type: flow.TypeString, Required: true, Hidden: true, TrimSpace: true}
}

// checkProfileSession refuses a step whose session is not the one of the
// flow's user (Hanko's RefreshSessionUser).
func (h *Handler) checkProfileSession(c *flow.Context) error {
	fr := requestOf(c.Context())
	if fr.providerCallback {
		// The provider's callback arrives without the (SameSite) session
		// cookie; it only keeps a one-time token, which exchange_token
		// (with the session) redeems.
		return nil
	}
	if fr.authn == nil || fr.authn.Session.IdentityID != c.IdentityID() {
		return errOperationNotPermitted
	}
	return nil
}

// profileUser returns the profile flow's user for Suspended predicates: the
// one profile_init's hook loaded, or loaded now; nil when it cannot be read.
func (h *Handler) profileUser(c *flow.Context) *core.Identity {
	fr := requestOf(c.Context())
	if fr.user != nil && fr.user.ID == c.IdentityID() {
		return fr.user
	}
	var (
		i   *core.Identity
		err error
	)
	if c.Tx() != nil {
		i, err = c.Tx().GetIdentity(c.Context(), c.IdentityID())
	} else {
		i, err = h.store.GetIdentity(c.Context(), c.IdentityID())
	}
	if err != nil {
		return nil
	}
	fr.user = i
	return i
}

// SessionJSON is a session as the profile payload lists it (Hanko's
// dto.SessionData).
type SessionJSON struct {
	ID           string    `json:"id"`
	UserAgentRaw string    `json:"user_agent_raw,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	IPAddress    string    `json:"ip_address,omitempty"`
	Current      bool      `json:"current"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at,omitempty"`
	LastUsed     time.Time `json:"last_used"`
}

// refreshProfileUser is profile_init's BeforeState hook: the user as the
// step's action left it, for the Suspended predicates of the actions
// offered (profileUser) and for profileView, which reads it again through
// the same step transaction (stepTx answers from what it read).
func (h *Handler) refreshProfileUser(c *flow.Context) error {
	i, err := c.Tx().GetIdentity(c.Context(), c.IdentityID())
	if err != nil {
		return fmt.Errorf("load profile user: %w", err)
	}
	requestOf(c.Context()).user = i
	return nil
}

// profileView is profile_init's payload: the user and their active
// sessions. It is derived from the store whenever the state is rendered,
// in the step's transaction (profileInTx) or, for an answer given without
// one, from the store (writeFlowResult), and is not stored in the flow: a
// user's session list alone is hundreds of kilobytes with a few thousand
// sessions, and a step stored it twice (the state's payload and the
// history item of a state left) and kept it in memory.
type profileView struct {
	flowID   string // the flow it was read for
	user     ProfileJSON
	sessions []SessionJSON
}

// profileReader is what loadProfileView reads: a step's transaction or the
// store.
type profileReader interface {
	GetIdentity(ctx context.Context, id string) (*core.Identity, error)
	ListSessions(ctx context.Context, q store.SessionQuery) ([]core.Session, error)
	store.WebAuthnCredentials
}

// loadProfileView reads profile_init's payload for flow flowID from q, and
// leaves the user it read in fr.user for the allowed values.
func (h *Handler) loadProfileView(ctx context.Context, q profileReader, fr *flowRequest, flowID, identityID string) (*profileView, error) {
	i, err := q.GetIdentity(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("load profile user: %w", err)
	}
	fr.user = i
	active := true
	list, err := q.ListSessions(ctx, store.SessionQuery{IdentityID: i.ID, Active: &active, Now: h.now()})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	sessions := make([]SessionJSON, 0, len(list))
	for _, s := range list {
		sj := SessionJSON{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, LastUsed: s.UpdatedAt,
			Current: fr.authn != nil && fr.authn.Session.ID == s.ID}
		if n := len(s.Devices); n > 0 {
			sj.UserAgentRaw, sj.UserAgent, sj.IPAddress = s.Devices[n-1].UserAgent, s.Devices[n-1].UserAgent, s.Devices[n-1].IPAddress
		}
		sessions = append(sessions, sj)
	}
	creds, err := webauthnCredentials(ctx, q, i.ID)
	if err != nil {
		return nil, err
	}
	return &profileView{flowID: flowID, user: h.profileJSON(i, creds), sessions: sessions}, nil
}

// profileInTx reads profile_init's payload in the step's transaction when
// the step ends in that state (Submission.InTx), for writeFlowResult.
func (h *Handler) profileInTx(ctx context.Context, tx store.Tx, res *flow.Result) error {
	fr := requestOf(ctx)
	fr.profile = nil
	if res.State != stateProfileInit || res.Ended {
		return nil
	}
	v, err := h.loadProfileView(ctx, tx, fr, res.Flow.ID, res.Flow.IdentityID)
	if err != nil {
		return err
	}
	fr.profile = v
	return nil
}

func (h *Handler) accountDelete(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	if err := h.emitUser(b.Context(), b.Tx(), EventUserDelete, i); err != nil {
		return fmt.Errorf("queue user.delete: %w", err)
	}
	if err := b.Tx().DeleteIdentity(b.Context(), i.ID); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	h.audit(b, AuditUserDeleted, i.ID, userPrimaryEmail(i), nil, true)
	return c.Continue(stateAccountDeleted)
}

func (h *Handler) emailCreate(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	email := c.String("email")
	if len(emails(i)) >= h.cfg.Email.Limit {
		return c.Error(inputErr("email", flow.CodeValueInvalid))
	}
	if _, err := b.Tx().FindIdentityByAddress(b.Context(), core.ViaEmail, email); err == nil {
		return c.Error(inputErr("email", codeEmailAlreadyExists))
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("look up e-mail: %w", err)
	}
	if h.cfg.Email.RequireVerification && h.codes != nil {
		if err := h.startPasscode(b, passcodeEmailVerification, email); err != nil {
			return c.Error(err)
		}
		return c.Continue(statePasscodeConfirmation, stateProfileInit)
	}
	if err := h.flowAddEmail(b, i, email, false); err != nil {
		return err
	}
	h.audit(b, AuditEmailCreated, i.ID, email, nil, true)
	return c.Continue(stateProfileInit)
}

// profileEmail returns the user's address named by the email_id input, or
// an input error.
func (h *Handler) profileEmail(c *flow.ActionContext) (*core.Identity, core.Address, error, error) {
	i, err := h.flowUser(c.Base())
	if err != nil {
		return nil, core.Address{}, nil, err
	}
	a, ok := emailOf(i, c.String("email_id"))
	if !ok {
		return nil, core.Address{}, inputErr("email_id", flow.CodeValueInvalid), nil
	}
	return i, a, nil, nil
}

func (h *Handler) emailDelete(c *flow.ActionContext) error {
	b := c.Base()
	i, a, ierr, err := h.profileEmail(c)
	if err != nil || ierr != nil {
		if err != nil {
			return err
		}
		return c.Error(ierr)
	}
	if a.Value == userPrimaryEmail(i) {
		return c.Error(errOperationNotPermitted.core()) // the primary address cannot be deleted
	}
	kept := i.Addresses[:0]
	for _, x := range i.Addresses {
		if x.ID != a.ID {
			kept = append(kept, x)
		}
	}
	i.Addresses = kept
	if err := b.Tx().UpdateIdentity(b.Context(), i); err != nil {
		return fmt.Errorf("delete e-mail: %w", err)
	}
	h.audit(b, AuditEmailDeleted, i.ID, a.Value, nil, true)
	if err := h.emitUser(b.Context(), b.Tx(), EventUserUpdateEmailDelete, i); err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return c.Continue(stateProfileInit)
}

func (h *Handler) emailSetPrimary(c *flow.ActionContext) error {
	b := c.Base()
	i, a, ierr, err := h.profileEmail(c)
	if err != nil || ierr != nil {
		if err != nil {
			return err
		}
		return c.Error(ierr)
	}
	if h.cfg.Email.RequireVerification && !a.Verified {
		return c.Error(inputErr("email_id", flow.CodeValueInvalid))
	}
	old := userPrimaryEmail(i)
	if a.Value != old {
		// The old primary stays as an extra address: take it out of the
		// schema's addresses before the traits change.
		for n := range i.Addresses {
			if x := &i.Addresses[n]; x.Via == core.ViaEmail && x.Value == old {
				x.Primary, x.Verifiable, x.Recovery = false, false, false
			}
		}
		if err := b.Tx().UpdateIdentity(b.Context(), i); err != nil {
			return fmt.Errorf("set primary e-mail: %w", err)
		}
		out, err := h.updateTraits(b, i, func(t *traits) { t.Email = a.Value }, nil)
		if err != nil {
			return fmt.Errorf("set primary e-mail: %w", err)
		}
		h.audit(b, AuditPrimaryEmailChanged, i.ID, a.Value, nil, true)
		if err := h.emitUser(b.Context(), b.Tx(), EventUserUpdateEmailPrimary, out); err != nil {
			return fmt.Errorf("queue webhook: %w", err)
		}
	}
	return c.Continue(stateProfileInit)
}

func (h *Handler) emailVerify(c *flow.ActionContext) error {
	_, a, ierr, err := h.profileEmail(c)
	if err != nil || ierr != nil {
		if err != nil {
			return err
		}
		return c.Error(ierr)
	}
	if a.Verified {
		return c.Error(inputErr("email_id", flow.CodeValueInvalid))
	}
	if err := h.startPasscode(c.Base(), passcodeEmailVerification, a.Value); err != nil {
		return c.Error(err)
	}
	return c.Continue(statePasscodeConfirmation, stateProfileInit)
}

// passwordSet is password_create and password_update.
func (h *Handler) passwordSet(typ AuditType) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		b := c.Base()
		pw := c.String("password")
		if ierr := h.checkNewPassword(pw); ierr != nil {
			ie := *ierr.(*flow.InputError)
			ie.Name = "password"
			return c.Error(&ie)
		}
		i, err := h.flowUser(b)
		if err != nil {
			return err
		}
		if err := h.flowSetPassword(c, i, pw); err != nil {
			return err
		}
		h.audit(b, typ, i.ID, userPrimaryEmail(i), nil, true)
		return c.Continue(stateProfileInit)
	}
}

func (h *Handler) passwordDelete(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	if err := h.ids.WithTx(b.Tx()).DeleteCredential(b.Context(), i.ID, core.CredentialPassword, ""); err != nil {
		return fmt.Errorf("delete password: %w", err)
	}
	h.audit(b, AuditPasswordDeleted, i.ID, userPrimaryEmail(i), nil, true)
	return c.Continue(stateProfileInit)
}

func (h *Handler) usernameSet(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	had := traitsOf(i).Username != ""
	if ierr, err := h.flowSetUsername(b, i, c.String("username")); ierr != nil || err != nil {
		if err != nil {
			return err
		}
		return c.Error(ierr)
	}
	ev := EventUserUpdateUsernameCreate
	if had {
		ev = EventUserUpdateUsernameUpdate
	}
	if out, err := b.Tx().GetIdentity(b.Context(), i.ID); err == nil {
		if err := h.emitUser(b.Context(), b.Tx(), ev, out); err != nil {
			return fmt.Errorf("queue webhook: %w", err)
		}
	}
	h.audit(b, AuditUsernameChanged, i.ID, userPrimaryEmail(i), nil, true)
	return c.Continue(stateProfileInit)
}

func (h *Handler) usernameDelete(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	out, err := h.updateTraits(b, i, func(t *traits) { t.Username = "" }, nil)
	if err != nil {
		return fmt.Errorf("delete username: %w", err)
	}
	h.audit(b, AuditUsernameDeleted, i.ID, userPrimaryEmail(i), nil, true)
	if err := h.emitUser(b.Context(), b.Tx(), EventUserUpdateUsernameDelete, out); err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return c.Continue(stateProfileInit)
}

// sessionDelete revokes another session of the user; the current one ends
// with POST /logout.
func (h *Handler) sessionDelete(c *flow.ActionContext) error {
	b := c.Base()
	id := c.String("session_id")
	s, err := b.Tx().GetSession(b.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.IdentityID != b.IdentityID()) {
		return c.Error(inputErr("session_id", flow.CodeValueInvalid))
	}
	if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	if fr := requestOf(b.Context()); fr.authn != nil && fr.authn.Session.ID == s.ID {
		return c.Error(inputErr("session_id", flow.CodeValueInvalid))
	}
	s.Active = false
	s.UpdatedAt = h.now().UTC()
	if err := b.Tx().UpdateSession(b.Context(), s); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := h.emit(b.Context(), b.Tx(), EventSessionDelete, sessionEventData(s)); err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return c.Continue(stateProfileInit)
}

// patchUserMetadata merges patch_metadata into the user's unsafe metadata
// (RFC 7386; null clears it).
func (h *Handler) patchUserMetadata(c *flow.ActionContext) error {
	b := c.Base()
	i, err := h.flowUser(b)
	if err != nil {
		return err
	}
	merged, err := mergeMetadata(i.MetadataUnsafe, c.JSON("patch_metadata"))
	if err != nil {
		return c.Error(inputErr("patch_metadata", codeInvalidMetadata))
	}
	i.MetadataUnsafe = merged
	i.UpdatedAt = h.now().UTC()
	if err := b.Tx().UpdateIdentity(b.Context(), i); err != nil {
		return fmt.Errorf("patch metadata: %w", err)
	}
	return c.Continue(stateProfileInit)
}
