package kratos

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/webauthn"
)

// Kratos' passkey method (selfservice/strategy/passkey): discoverable
// WebAuthn credentials as first factor. It serves browser flows only, as
// Kratos does: an API flow shows no passkey nodes, and a submission of an
// API flow finds no strategy. The ceremonies are method/webauthn's; their
// challenges live in the flow's stash (one per flow, used once: a new one is
// begun after every answer), so any replica finishes them.

const methodPasskey = "passkey"

// maxCredentialJSON bounds a PublicKeyCredential JSON in a form field.
const maxCredentialJSON = 64 << 10

var (
	keyPasskeyLogin    = ceremonyKey("passkey.login")
	keyPasskeyRegister = ceremonyKey("passkey.registration")
	keyPasskeySettings = ceremonyKey("passkey.settings")
)

// passkeyStrategy returns the passkey method of a kind of flow, or nil when
// passkeys are off.
func (s *SelfService) passkeyStrategy(kind core.FlowKind) []strategy {
	if s.passkeys == nil {
		return nil
	}
	switch kind {
	case core.FlowLogin:
		return []strategy{{method: methodPasskey,
			inputs:  []flow.Input{{Name: "passkey_login", Type: flow.TypeString, MaxLength: maxCredentialJSON}},
			fields:  []string{"passkey_login"},
			nodes:   s.passkeyLoginNodes,
			prepare: s.passkeyLogin,
			begin:   s.passkeyLoginBegin}}
	case core.FlowRegistration:
		return []strategy{{method: methodPasskey,
			inputs: []flow.Input{{Name: "traits", Type: flow.TypeJSON},
				{Name: "passkey_register", Type: flow.TypeString, MaxLength: maxCredentialJSON}},
			fields:  []string{"passkey_register"},
			nodes:   s.passkeyRegistrationNodes,
			prepare: s.passkeyRegistration,
			begin:   s.passkeyRegistrationBegin}}
	case core.FlowSettings:
		return []strategy{{method: methodPasskey,
			inputs: []flow.Input{{Name: "passkey_settings_register", Type: flow.TypeString, MaxLength: maxCredentialJSON},
				{Name: "passkey_remove", Type: flow.TypeString, MaxLength: 1024}},
			fields:  []string{"passkey_settings_register", "passkey_remove"},
			nodes:   s.passkeySettingsNodes,
			prepare: s.passkeySettings,
			begin:   s.passkeySettingsBegin}}
	}
	return nil
}

// --- login

// passkeyLoginBegin begins the login ceremony of a new browser login flow:
// discoverable (any passkey, by button or autofill), or for a refresh
// the caller's own passkeys. A second-factor flow has none.
func (s *SelfService) passkeyLoginBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" || b.aal == core.AAL2 {
		return nil, nil
	}
	o := webauthn.LoginOptions{}
	if b.refresh && b.ident != nil {
		o.IdentityID = b.ident.ID
	}
	return s.beginPasskeyLogin(ctx, s.st, o)
}

func (s *SelfService) beginPasskeyLogin(ctx context.Context, st webauthn.Store, o webauthn.LoginOptions) (func(*flow.Stash), error) {
	opts, sess, err := s.passkeys.BeginLogin(ctx, st, o)
	if errors.Is(err, webauthn.ErrNoCredentials) {
		return func(st *flow.Stash) { keyPasskeyLogin.Delete(st) }, nil
	}
	if err != nil {
		return nil, err
	}
	c := ceremony{Options: opts, Session: *sess}
	return func(st *flow.Stash) { keyPasskeyLogin.Set(st, c) }, nil
}

// passkeyLoginNodes renders Kratos' passkey login nodes (notes, "Observed
// on a real Kratos"): the identifier with passkey autofill, the challenge,
// the script, the result input (whose onload starts autofill) and the
// button; on a refresh the identifier is the caller's, hidden.
func (s *SelfService) passkeyLoginNodes(v *view) []Node {
	c, ok := keyPasskeyLogin.Get(v.res.Stash)
	if !ok || v.res.Flow.Type != "browser" || val(keyAAL, v.res.Stash) == string(core.AAL2) {
		return nil
	}
	refresh := val(keyRefresh, v.res.Stash) && v.ident != nil
	var nodes []Node
	if refresh {
		n := inputNode(groupDefault, "identifier", "hidden", false, nil)
		n.Attributes.Value = s.passkeyName(v.ident)
		nodes = append(nodes, n)
	} else {
		n := inputNode(groupDefault, "identifier", "text", true, s.identifierLabel(nil))
		n.Attributes.Autocomplete = "username webauthn"
		var kept string
		if raw := v.value("identifier"); raw != nil {
			_ = jsonUnmarshal(raw, &kept)
		}
		n.Attributes.Value = kept
		nodes = append(nodes, n)
	}
	challenge := inputNode(groupPasskey, "passkey_challenge", "hidden", false, nil)
	challenge.Attributes.Value = string(c.Options)
	result := inputNode(groupPasskey, "passkey_login", "hidden", false, nil)
	if !refresh {
		result.Attributes.Onload = "window.oryPasskeyLoginAutocompleteInit()"
		result.Attributes.OnloadTrigger = "oryPasskeyLoginAutocompleteInit"
	}
	trigger := inputNode(groupPasskey, "passkey_login_trigger", "button", false, textPtr(labelLoginPasskey))
	trigger.Attributes.Value = ""
	trigger.Attributes.Onclick = "window.oryPasskeyLogin()"
	trigger.Attributes.OnclickTrigger = "oryPasskeyLogin"
	return append(nodes, challenge, s.scriptNode(), result, trigger)
}

// passkeyLogin finishes the login ceremony with the submitted assertion.
// The check runs inside the step's transaction (it records the signature
// counter and last use with the step); whatever it answers, the flow gets a
// fresh challenge, so an assertion is never accepted twice.
func (s *SelfService) passkeyLogin(sub *submission) (*outcome, error) {
	st := sub.res.Stash
	if sub.res.Flow.Type != "browser" || val(keyAAL, st) == string(core.AAL2) {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowLogin))}}, nil
	}
	answer := sub.str("passkey_login")
	refreshID := ""
	if val(keyRefresh, st) && sub.res.Flow.IdentityID != "" {
		refreshID = sub.res.Flow.IdentityID
	}
	o := &outcome{values: keep("identifier", sub.str("identifier"))}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		cer, held := keyPasskeyLogin.Get(fc.Stash())
		renew, err := s.beginPasskeyLogin(ctx, tx, webauthn.LoginOptions{IdentityID: refreshID})
		if err != nil {
			return err
		}
		o.stash = renew
		if answer == "" {
			// method=passkey without an answer asks for the ceremony:
			// the flow again, with a fresh challenge.
			o.relocate = true
			return nil
		}
		if !held {
			o.messages = []Text{msgWebAuthnWrong}
			return nil
		}
		res, err := s.passkeys.FinishLogin(ctx, tx, &cer.Session, []byte(answer))
		if err != nil {
			msg, ferr := ceremonyError(err, msgNoWebAuthnUser)
			if ferr != nil {
				return ferr
			}
			s.errs.Log.InfoContext(ctx, "passkey login refused", "flow", fc.FlowID(), "error", err)
			o.messages = []Text{msg}
			return nil
		}
		if refreshID != "" && res.IdentityID != refreshID {
			o.messages = []Text{msgWebAuthnWrong}
			return nil
		}
		i, err := tx.GetIdentity(ctx, res.IdentityID)
		if notFound(err) {
			o.messages = []Text{msgNoWebAuthnUser}
			return nil
		}
		if err != nil {
			return err
		}
		if i.State == core.IdentityInactive {
			o.messages = []Text{msgDisabled}
			return nil
		}
		if s.hasHook(s.loginHooks(methodPasskey), "require_verified_address") && !hasVerifiedAddress(i) {
			o.messages = []Text{msgNotVerified}
			return nil
		}
		o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
		return nil
	}
	return o, nil
}

// --- registration

// keyPasskeyIdentity is the id the identity registering with a passkey will
// get: its WebAuthn user handle is derived from it, so it is chosen when
// the ceremony begins.
var keyPasskeyIdentity = flow.NewStickyKey[string]("kratos.passkey.identity")

func (s *SelfService) passkeyRegistrationBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" {
		return nil, nil
	}
	id := uuid.NewString()
	seed, err := s.beginPasskeyRegistration(ctx, s.st, id)
	if err != nil {
		return nil, err
	}
	return func(st *flow.Stash) {
		keyPasskeyIdentity.Set(st, id)
		seed(st)
	}, nil
}

// beginPasskeyRegistration begins the registration ceremony of a sign-up
// for the identity id. The script names the passkey after the trait the
// options name (displayNameFieldName), so the account name here is a
// placeholder.
func (s *SelfService) beginPasskeyRegistration(ctx context.Context, st webauthn.Store, id string) (func(*flow.Stash), error) {
	opts, sess, err := s.passkeys.BeginRegistration(ctx, st, webauthn.User{IdentityID: id, Name: id}, webauthn.RegistrationOptions{})
	if err != nil {
		return nil, err
	}
	c := ceremony{Options: opts, Session: *sess}
	return func(st *flow.Stash) { keyPasskeyRegister.Set(st, c) }, nil
}

// passkeyRegistrationNodes renders "Sign up with passkey": on the
// credentials screen of profile_first, with the traits in the unified
// style (notes §3.2).
func (s *SelfService) passkeyRegistrationNodes(v *view) []Node {
	c, ok := keyPasskeyRegister.Get(v.res.Stash)
	if !ok || v.res.Flow.Type != "browser" {
		return nil
	}
	var nodes []Node
	if s.twoStepRegistration() {
		if val(keyScreen, v.res.Stash) != screenCredentials {
			return nil
		}
	} else {
		nodes = traitNodes(s.schemaTraits(), groupDefault, v.value("traits"), false)
	}
	var pk struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	_ = json.Unmarshal(c.Options, &pk)
	data, _ := json.Marshal(map[string]any{"credentialOptions": map[string]any{"publicKey": pk.PublicKey},
		"displayNameFieldName": s.displayNameField()})
	trigger := inputNode(groupPasskey, "passkey_register_trigger", "button", false, textPtr(labelSignUpPasskey))
	trigger.Attributes.Value = ""
	trigger.Attributes.Onclick = "window.oryPasskeyRegistration()"
	trigger.Attributes.OnclickTrigger = "oryPasskeyRegistration"
	result := inputNode(groupPasskey, "passkey_register", "hidden", false, nil)
	create := inputNode(groupPasskey, "passkey_create_data", "hidden", false, nil)
	create.Attributes.Value = string(data)
	return append(nodes, trigger, result, create, s.scriptNode())
}

// passkeyRegistration creates the identity with the submitted passkey (see
// webauthnSignUp).
func (s *SelfService) passkeyRegistration(sub *submission) (*outcome, error) {
	return s.webauthnSignUp(sub, signUp{
		method: s.passkeys, identity: keyPasskeyIdentity, ceremony: keyPasskeyRegister,
		answer: "passkey_register", what: "passkey",
		begin: s.beginPasskeyRegistration,
	})
}

// signUp is what differs between the two WebAuthn sign-ups, with a passkey
// and with a passwordless security key.
type signUp struct {
	method   *webauthn.Method
	identity flow.Key[string]   // the id the new identity gets (its user handle derives from it)
	ceremony flow.Key[ceremony] // the registration ceremony in the stash
	answer   string             // the field carrying the browser's attestation
	what     string             // for the log
	// displayName names the credential; empty means the identifier.
	displayName string
	// begin starts the next ceremony for the identity id.
	begin func(ctx context.Context, st webauthn.Store, id string) (func(*flow.Stash), error)
}

// webauthnSignUp creates the identity with the submitted credential. The
// traits are validated first (outside the transaction); inside it the
// attestation is verified before anything is written, then the identity
// and its credential are stored together, so a failed step leaves neither.
// A new ceremony is begun on every answer, so a challenge is used once.
func (s *SelfService) webauthnSignUp(sub *submission, u signUp) (*outcome, error) {
	if sub.res.Flow.Type != "browser" {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowRegistration))}}, nil
	}
	traits := traitsOf(sub)
	o := &outcome{values: keep("traits", traits)}
	ex, msgs, err := s.checkTraits(traits)
	if err != nil {
		return nil, err
	}
	if msgs != nil {
		o.nodeMessages = msgs
		return o, nil
	}
	answer := sub.str(u.answer)
	id := val(u.identity, sub.res.Stash)
	if id == "" {
		id = uuid.NewString()
	}
	d := identity.Draft{ID: id, Traits: traits}
	kratosMethod := methodPasskey
	if u.method == s.securityKeys {
		kratosMethod = methodWebAuthn
	}
	if stop, err := s.preRegistration(sub, kratosMethod, &d, o); stop || err != nil {
		return o, err
	}
	p, err := s.ids.Prepare(sub.r.Context(), d)
	if core.ErrorCode(err) == core.CodeInvalid {
		o.messages = []Text{genericText(core.ErrorMessage(err))}
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	name := identifierName(ex, id)
	label := u.displayName
	if label == "" {
		label = name
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		cer, held := u.ceremony.Get(fc.Stash())
		renew, err := u.begin(ctx, tx, id)
		if err != nil {
			return err
		}
		o.stash = func(st *flow.Stash) {
			u.identity.Set(st, id)
			renew(st)
		}
		switch {
		case answer == "":
			o.relocate = true
			return nil
		case !held:
			o.messages = []Text{msgWebAuthnWrong}
			return nil
		}
		dry := &dryRun{Store: tx}
		if _, err := u.method.FinishRegistration(ctx, dry, &cer.Session, webauthn.User{IdentityID: id, Name: name}, []byte(answer), label); err != nil {
			msg, ferr := ceremonyError(err, msgWebAuthnWrong)
			if ferr != nil {
				return ferr
			}
			s.errs.Log.InfoContext(ctx, u.what+" registration refused", "flow", fc.FlowID(), "error", err)
			o.messages = []Text{msg}
			return nil
		}
		i, err := s.ids.WithTx(tx).CreatePrepared(ctx, p)
		if takenInTx(err) {
			o.messages = []Text{msgDuplicateCreds}
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.CreateWebAuthnCredential(ctx, dry.created); err != nil {
			return err
		}
		o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
		return nil
	}
	return o, nil
}

// --- settings

func (s *SelfService) passkeySettingsBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" || b.ident == nil {
		return nil, nil
	}
	return s.beginPasskeySettings(ctx, s.st, b.ident)
}

func (s *SelfService) beginPasskeySettings(ctx context.Context, st webauthn.Store, i *core.Identity) (func(*flow.Stash), error) {
	name := s.passkeyName(i)
	opts, sess, err := s.passkeys.BeginRegistration(ctx, st, webauthn.User{IdentityID: i.ID, Name: name}, webauthn.RegistrationOptions{})
	if err != nil {
		return nil, err
	}
	c := ceremony{Options: opts, Session: *sess}
	return func(st *flow.Stash) { keyPasskeySettings.Set(st, c) }, nil
}

// passkeySettingsNodes renders the passkey settings (Kratos'
// PopulateSettingsMethod): a remove button per passkey (disabled when it is
// the identity's last way to sign in), the script, "Add passkey", the
// result input and the creation options.
func (s *SelfService) passkeySettingsNodes(v *view) []Node {
	c, ok := keyPasskeySettings.Get(v.res.Stash)
	if !ok || v.res.Flow.Type != "browser" || v.ident == nil {
		return nil
	}
	list, err := webauthnCredentials(v.ctx, s.st, v.ident.ID, false)
	if err != nil {
		s.errs.Log.ErrorContext(v.ctx, "list passkeys", "error", err)
		return nil
	}
	count, err := s.firstFactorCount(v.ctx, v.ident, s.st)
	if err != nil {
		s.errs.Log.ErrorContext(v.ctx, "count first factors", "error", err)
		return nil
	}
	var nodes []Node
	for _, cred := range list {
		n := submitNode(groupPasskey, "passkey_remove", credentialKey(cred), removeText(true, cred))
		n.Attributes.Disabled = count < 2
		nodes = append(nodes, n)
	}
	trigger := inputNode(groupPasskey, "passkey_register_trigger", "button", false, textPtr(labelAddPasskey))
	trigger.Attributes.Value = ""
	trigger.Attributes.Onclick = "window.oryPasskeySettingsRegistration()"
	trigger.Attributes.OnclickTrigger = "oryPasskeySettingsRegistration"
	result := inputNode(groupPasskey, "passkey_settings_register", "hidden", false, nil)
	create := inputNode(groupPasskey, "passkey_create_data", "hidden", false, nil)
	create.Attributes.Value = string(c.Options)
	return append(nodes, s.scriptNode(), trigger, result, create)
}

// passkeySettings adds or removes a passkey; both need a privileged
// session.
func (s *SelfService) passkeySettings(sub *submission) (*outcome, error) {
	if sub.res.Flow.Type != "browser" {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowSettings))}}, nil
	}
	add, remove := sub.str("passkey_settings_register"), sub.str("passkey_remove")
	if add == "" && remove == "" {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowSettings))}}, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	ident := sub.ident
	o := &outcome{}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		if remove != "" {
			return s.removeWebAuthn(ctx, tx, ident, remove, false, "passkey_remove", o)
		}
		cer, held := keyPasskeySettings.Get(fc.Stash())
		added := false
		if !held {
			o.messages = []Text{msgWebAuthnWrong}
		} else {
			name := s.passkeyName(ident)
			_, err := s.passkeys.FinishRegistration(ctx, tx, &cer.Session, webauthn.User{IdentityID: ident.ID, Name: name}, []byte(add), name)
			if err != nil {
				msg, ferr := ceremonyError(err, msgWebAuthnWrong)
				if ferr != nil {
					return ferr
				}
				s.errs.Log.InfoContext(ctx, "passkey not added", "flow", fc.FlowID(), "error", err)
				o.messages = []Text{msg}
			}
			added = err == nil
		}
		// The next ceremony (used or not, this one is over) excludes the
		// passkey just added.
		renew, err := s.beginPasskeySettings(ctx, tx, ident)
		if err != nil {
			return err
		}
		o.stash = renew
		if added {
			o.ident, o.next, o.messages = ident, stateSuccess, []Text{msgSettingsSaved}
		}
		return nil
	}
	return o, nil
}

// removeWebAuthn removes one of the identity's passkeys (mfaOnly false) or
// security keys, refusing to remove the last way to sign in.
func (s *SelfService) removeWebAuthn(ctx context.Context, tx WebAuthnStore, ident *core.Identity, key string, mfaOnly bool, field string, o *outcome) error {
	list, err := webauthnCredentials(ctx, tx, ident.ID, mfaOnly)
	if err != nil {
		return err
	}
	cred, ok := findCredential(list, key)
	if !ok {
		o.messages = []Text{msgCredentialNotFound}
		return nil
	}
	if !mfaOnly {
		count, err := s.firstFactorCount(ctx, ident, tx)
		if err != nil {
			return err
		}
		if count < 2 {
			o.nodeMessages = map[string][]Text{field: {msgWouldLockOut}}
			return nil
		}
	}
	if err := tx.DeleteWebAuthnCredential(ctx, ident.ID, cred.ID); err != nil && !notFound(err) {
		return err
	}
	o.ident, o.next, o.messages = ident, stateSuccess, []Text{msgSettingsSaved}
	return nil
}
