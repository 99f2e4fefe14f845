package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// Kratos' webauthn method (selfservice/strategy/webauthn): security keys.
// By default they are a second factor: an aal2 login flow of an identity
// with security keys offers "Sign in with a hardware key", and settings add
// and remove them. With selfservice.methods.webauthn.config.passwordless
// they are a first factor instead (Kratos' older passkeys): registration
// offers "Sign up with security key", and login asks for the identifier,
// then for the key. Like passkeys, the method serves browser flows only;
// the credentials are the one WebAuthn table's (security keys are mfa_only
// records, passwordless keys are not).

const methodWebAuthn = "webauthn"

var (
	keyWebAuthnLogin    = ceremonyKey("webauthn.login")
	keyWebAuthnRegister = ceremonyKey("webauthn.registration")
	keyWebAuthnSettings = ceremonyKey("webauthn.settings")
	// keyWebAuthnIdentifier is the identifier a passwordless login asked a
	// key for (the second screen shows it hidden).
	keyWebAuthnIdentifier = flow.NewKey[string]("kratos.webauthn.identifier")
	// keyWebAuthnIdentity is the id a passwordless sign-up's identity
	// gets (its user handle derives from it).
	keyWebAuthnIdentity = flow.NewStickyKey[string]("kratos.webauthn.identity")

	labelContinueWebAuthn   = infoText(1010011, "Sign in with a hardware key")
	msgPrepareWebAuthn      = infoText(MsgLoginWebAuthnPasswordless, "Prepare your WebAuthn device (e.g. security key, biometrics scanner, ...) and press continue.")
	webauthnResultInputs    = flow.Input{Name: "webauthn_login", Type: flow.TypeString, MaxLength: maxCredentialJSON}
	webauthnRegisterInputs  = flow.Input{Name: "webauthn_register", Type: flow.TypeString, MaxLength: maxCredentialJSON}
	webauthnDisplayNameIn   = flow.Input{Name: "webauthn_register_displayname", Type: flow.TypeString, TrimSpace: true, MaxLength: 256}
	defaultSecurityKeyLabel = "Security key"
)

// webauthnPasswordless reports whether security keys are a first factor.
func (s *SelfService) webauthnPasswordless() bool { return s.cfg.Methods.WebAuthn.Config.Passwordless }

// webauthnStrategy returns the webauthn method of a kind of flow (first
// factor login and registration only when passwordless), or nil when the
// method is off. The second-factor login is webauthnFactor.
func (s *SelfService) webauthnStrategy(kind core.FlowKind) []strategy {
	if s.securityKeys == nil {
		return nil
	}
	switch kind {
	case core.FlowLogin:
		if !s.webauthnPasswordless() {
			return nil
		}
		return []strategy{{method: methodWebAuthn,
			inputs: []flow.Input{{Name: "identifier", Type: flow.TypeString, TrimSpace: true, MaxLength: 320}, webauthnResultInputs},
			fields: []string{"webauthn_login"}, nodes: s.webauthnFirstFactorNodes, prepare: s.webauthnFirstFactorLogin}}
	case core.FlowRegistration:
		if !s.webauthnPasswordless() {
			return nil
		}
		return []strategy{{method: methodWebAuthn,
			inputs: []flow.Input{{Name: "traits", Type: flow.TypeJSON}, webauthnRegisterInputs, webauthnDisplayNameIn},
			fields: []string{"webauthn_register"}, nodes: s.webauthnRegistrationNodes, prepare: s.webauthnRegistration,
			begin: s.webauthnRegistrationBegin}}
	case core.FlowSettings:
		return []strategy{{method: methodWebAuthn,
			inputs: []flow.Input{webauthnRegisterInputs, webauthnDisplayNameIn, {Name: "webauthn_remove", Type: flow.TypeString, MaxLength: 1024}},
			fields: []string{"webauthn_register", "webauthn_remove"}, nodes: s.webauthnSettingsNodes, prepare: s.webauthnSettings,
			begin: s.webauthnSettingsBegin}}
	}
	return nil
}

// webauthnFactor is the security key as second factor (the mfa seam): on an
// aal2 login flow of an identity with security keys.
func (s *SelfService) webauthnFactor() secondFactor {
	return secondFactor{
		strategy: strategy{method: methodWebAuthn, inputs: []flow.Input{webauthnResultInputs}, fields: []string{"webauthn_login"},
			nodes: s.webauthnSecondFactorNodes, prepare: s.webauthnSecondFactorLogin, begin: s.webauthnSecondFactorBegin},
		configured: func(ctx context.Context, i *core.Identity) (bool, error) {
			keys, err := webauthnCredentials(ctx, s.st, i.ID, true)
			return len(keys) > 0, err
		},
		aal: core.AAL2,
	}
}

// loginTrigger is "Sign in with a hardware key": the button carries the
// request options (webauthn.js reads them from its value).
func loginTrigger(options json.RawMessage, label Text) Node {
	n := inputNode(groupWebAuthn, "webauthn_login_trigger", "button", false, &label)
	n.Attributes.Value = string(options)
	n.Attributes.Onclick = "window.oryWebAuthnLogin(" + string(options) + ")"
	n.Attributes.OnclickTrigger = "oryWebAuthnLogin"
	return n
}

// --- second factor

func (s *SelfService) webauthnSecondFactorBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" || b.aal != core.AAL2 || b.ident == nil || s.webauthnPasswordless() {
		return nil, nil
	}
	return s.beginWebAuthnLogin(ctx, s.st, b.ident.ID, true)
}

func (s *SelfService) beginWebAuthnLogin(ctx context.Context, st webauthn.Store, identityID string, mfaOnly bool) (func(*flow.Stash), error) {
	seed, _, err := s.beginWebAuthnLoginFor(ctx, st, identityID, mfaOnly)
	return seed, err
}

// beginWebAuthnLoginFor begins a login ceremony for the identity's keys and
// reports whether it has any (without, the seed removes any ceremony).
func (s *SelfService) beginWebAuthnLoginFor(ctx context.Context, st webauthn.Store, identityID string, mfaOnly bool) (func(*flow.Stash), bool, error) {
	opts, sess, err := s.securityKeys.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: identityID, MFAOnly: mfaOnly})
	if errors.Is(err, webauthn.ErrNoCredentials) {
		return func(st *flow.Stash) { keyWebAuthnLogin.Delete(st) }, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	c := ceremony{Options: opts, Session: *sess}
	return func(st *flow.Stash) { keyWebAuthnLogin.Set(st, c) }, true, nil
}

// webauthnSecondFactorNodes renders Kratos' aal2 security key login: the
// identifier (hidden), the script, the button and the result input.
func (s *SelfService) webauthnSecondFactorNodes(v *view) []Node {
	c, ok := keyWebAuthnLogin.Get(v.res.Stash)
	if !ok || v.res.Flow.Type != "browser" || s.webauthnPasswordless() {
		return nil
	}
	id := inputNode(groupDefault, "identifier", "hidden", false, nil)
	id.Attributes.Value = s.loginIdentifierOf(v.ident)
	result := inputNode(groupWebAuthn, "webauthn_login", "hidden", false, nil)
	result.Attributes.Value = ""
	return []Node{id, s.scriptNode(), loginTrigger(c.Options, labelLoginWebAuthn), result}
}

// webauthnSecondFactorLogin checks the session identity's security key.
func (s *SelfService) webauthnSecondFactorLogin(sub *submission) (*outcome, error) {
	if sub.res.Flow.Type != "browser" || s.webauthnPasswordless() {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowLogin))}}, nil
	}
	answer := sub.str("webauthn_login")
	ident := sub.ident
	o := &outcome{}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		cer, held := keyWebAuthnLogin.Get(fc.Stash())
		res, msg, err := s.finishWebAuthnLogin(ctx, fc, tx, cer, held, answer)
		if err != nil {
			return err
		}
		renew, err := s.beginWebAuthnLogin(ctx, tx, ident.ID, true)
		if err != nil {
			return err
		}
		o.stash = renew
		switch {
		case msg != nil:
			o.messages = []Text{*msg}
		case res.IdentityID != ident.ID:
			o.messages = []Text{msgWebAuthnWrong}
		default:
			o.identityID, o.ident, o.next = ident.ID, ident, statePassedChallenge
		}
		return nil
	}
	return o, nil
}

// finishWebAuthnLogin verifies an assertion against the flow's ceremony. A
// refusal is a message for the form; an error fails the step.
func (s *SelfService) finishWebAuthnLogin(ctx context.Context, fc *flow.Context, tx store.Tx, cer ceremony, held bool, answer string) (*webauthn.LoginResult, *Text, error) {
	if answer == "" {
		m := requiredText("webauthn_login")
		return nil, &m, nil
	}
	if !held {
		return nil, &msgWebAuthnWrong, nil
	}
	res, err := s.securityKeys.FinishLogin(ctx, tx, &cer.Session, []byte(answer))
	if err != nil {
		msg, ferr := ceremonyError(err, msgNoWebAuthnUser)
		if ferr != nil {
			return nil, nil, ferr
		}
		s.errs.Log.InfoContext(ctx, "security key login refused", "flow", fc.FlowID(), "error", err)
		return nil, &msg, nil
	}
	return res, nil, nil
}

// --- passwordless first factor

// webauthnFirstFactorNodes renders the passwordless login: the identifier
// and "Sign in with a hardware key" (method=webauthn) first; once the
// identity is known, its key's button with the request options.
func (s *SelfService) webauthnFirstFactorNodes(v *view) []Node {
	st := v.res.Stash
	if v.res.Flow.Type != "browser" || val(keyAAL, st) == string(core.AAL2) || val(keyRefresh, st) && v.ident != nil {
		return nil
	}
	if c, ok := keyWebAuthnLogin.Get(st); ok {
		id := inputNode(groupDefault, "identifier", "hidden", true, nil)
		id.Attributes.Value = val(keyWebAuthnIdentifier, st)
		result := inputNode(groupWebAuthn, "webauthn_login", "hidden", false, nil)
		result.Attributes.Value = ""
		return []Node{id, s.scriptNode(), loginTrigger(c.Options, labelContinueWebAuthn), result}
	}
	id := inputNode(groupDefault, "identifier", "text", true, s.identifierLabel(nil))
	var kept string
	if raw := v.value("identifier"); raw != nil {
		_ = jsonUnmarshal(raw, &kept)
	}
	id.Attributes.Value = kept
	return []Node{id, submitNode(groupWebAuthn, "method", methodWebAuthn, labelContinueWebAuthn)}
}

// webauthnFirstFactorLogin: with an identifier only, it begins the login
// ceremony for that identity's keys (or says it has none); with an answer,
// it finishes it.
func (s *SelfService) webauthnFirstFactorLogin(sub *submission) (*outcome, error) {
	st := sub.res.Stash
	if sub.res.Flow.Type != "browser" || val(keyAAL, st) == string(core.AAL2) {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowLogin))}}, nil
	}
	answer := sub.str("webauthn_login")
	identifier := strings.TrimSpace(sub.str("identifier"))
	o := &outcome{values: keep("identifier", identifier)}
	if answer == "" {
		if identifier == "" {
			o.nodeMessages = map[string][]Text{"identifier": {requiredText("identifier")}}
			return o, nil
		}
		o.tx = func(c *flow.ActionContext, o *outcome) error {
			fc := c.Base()
			ctx, tx := fc.Context(), fc.Tx()
			i, err := tx.FindIdentityByIdentifier(ctx, core.CredentialPassword, schema.NormalizeIdentifier(identifier))
			if notFound(err) {
				o.messages = []Text{msgNoWebAuthnUser}
				return nil
			}
			if err != nil {
				return err
			}
			seed, found, err := s.beginWebAuthnLoginFor(ctx, tx, i.ID, false)
			if err != nil {
				return err
			}
			if !found {
				o.messages = []Text{msgNoWebAuthnUser}
				return nil
			}
			o.stash = func(st *flow.Stash) {
				seed(st)
				keyWebAuthnIdentifier.Set(st, identifier)
			}
			o.messages = []Text{msgPrepareWebAuthn}
			o.relocate = true
			return nil
		}
		return o, nil
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		cer, held := keyWebAuthnLogin.Get(fc.Stash())
		res, msg, err := s.finishWebAuthnLogin(ctx, fc, tx, cer, held, answer)
		if err != nil {
			return err
		}
		o.stash = func(st *flow.Stash) { keyWebAuthnLogin.Delete(st); keyWebAuthnIdentifier.Delete(st) }
		if msg != nil {
			o.messages = []Text{*msg}
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
		if s.hasHook(s.loginHooks(methodWebAuthn), "require_verified_address") && !hasVerifiedAddress(i) {
			o.messages = []Text{msgNotVerified}
			return nil
		}
		o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
		return nil
	}
	return o, nil
}

// --- registration (passwordless)

func (s *SelfService) webauthnRegistrationBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" {
		return nil, nil
	}
	id := uuid.NewString()
	seed, err := s.beginWebAuthnRegistration(ctx, s.st, id, id, keyWebAuthnRegister, false)
	if err != nil {
		return nil, err
	}
	return func(st *flow.Stash) {
		keyWebAuthnIdentity.Set(st, id)
		seed(st)
	}, nil
}

// beginWebAuthnRegistration begins a registration ceremony for the identity
// id, kept under key.
func (s *SelfService) beginWebAuthnRegistration(ctx context.Context, st webauthn.Store, id, name string, key flow.Key[ceremony], mfaOnly bool) (func(*flow.Stash), error) {
	opts, sess, err := s.securityKeys.BeginRegistration(ctx, st, webauthn.User{IdentityID: id, Name: name}, webauthn.RegistrationOptions{MFAOnly: mfaOnly})
	if err != nil {
		return nil, err
	}
	c := ceremony{Options: opts, Session: *sess}
	return func(st *flow.Stash) { key.Set(st, c) }, nil
}

// registerNodes are the nodes that add a key: its name, the button with
// the creation options, the result input and the script.
func (s *SelfService) registerNodes(c ceremony, label Text) []Node {
	name := inputNode(groupWebAuthn, "webauthn_register_displayname", "text", false, textPtr(labelWebAuthnName))
	name.Attributes.Value = ""
	trigger := inputNode(groupWebAuthn, "webauthn_register_trigger", "button", false, &label)
	trigger.Attributes.Value = string(c.Options)
	trigger.Attributes.Onclick = "window.oryWebAuthnRegistration(" + string(c.Options) + ")"
	trigger.Attributes.OnclickTrigger = "oryWebAuthnRegistration"
	result := inputNode(groupWebAuthn, "webauthn_register", "hidden", false, nil)
	result.Attributes.Value = ""
	return []Node{s.scriptNode(), result, name, trigger}
}

// webauthnRegistrationNodes renders "Sign up with security key" where the
// password would be (profile_first: the credentials screen).
func (s *SelfService) webauthnRegistrationNodes(v *view) []Node {
	c, ok := keyWebAuthnRegister.Get(v.res.Stash)
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
	return append(nodes, s.registerNodes(c, labelSignUpWebAuthn)...)
}

// webauthnRegistration creates the identity with a passwordless security
// key, as passkeyRegistration does.
func (s *SelfService) webauthnRegistration(sub *submission) (*outcome, error) {
	displayName := sub.str("webauthn_register_displayname")
	if displayName == "" {
		displayName = defaultSecurityKeyLabel
	}
	return s.webauthnSignUp(sub, signUp{
		method: s.securityKeys, identity: keyWebAuthnIdentity, ceremony: keyWebAuthnRegister,
		answer: "webauthn_register", what: "security key", displayName: displayName,
		begin: func(ctx context.Context, st webauthn.Store, id string) (func(*flow.Stash), error) {
			return s.beginWebAuthnRegistration(ctx, st, id, id, keyWebAuthnRegister, false)
		},
	})
}

// --- settings

// webauthnSettingsKind is whether settings manage security keys (mfa_only)
// or, passwordless, first-factor keys.
func (s *SelfService) webauthnSettingsKind() bool { return !s.webauthnPasswordless() }

func (s *SelfService) webauthnSettingsBegin(ctx context.Context, b beginInfo) (func(*flow.Stash), error) {
	if b.typ != "browser" || b.ident == nil {
		return nil, nil
	}
	return s.beginWebAuthnRegistration(ctx, s.st, b.ident.ID, s.passkeyName(b.ident), keyWebAuthnSettings, s.webauthnSettingsKind())
}

// webauthnSettingsNodes renders Kratos' security key settings: a remove
// button per key, the name input, "Add security key", the result input and
// the script.
func (s *SelfService) webauthnSettingsNodes(v *view) []Node {
	c, ok := keyWebAuthnSettings.Get(v.res.Stash)
	if !ok || v.res.Flow.Type != "browser" || v.ident == nil {
		return nil
	}
	mfaOnly := s.webauthnSettingsKind()
	list, err := webauthnCredentials(v.ctx, s.st, v.ident.ID, mfaOnly)
	if err != nil {
		s.errs.Log.ErrorContext(v.ctx, "list security keys", "error", err)
		return nil
	}
	count := 2
	if !mfaOnly {
		if count, err = s.firstFactorCount(v.ctx, v.ident, s.st); err != nil {
			s.errs.Log.ErrorContext(v.ctx, "count first factors", "error", err)
			return nil
		}
	}
	var nodes []Node
	for _, cred := range list {
		n := submitNode(groupWebAuthn, "webauthn_remove", credentialKey(cred), removeText(false, cred))
		n.Attributes.Disabled = count < 2
		nodes = append(nodes, n)
	}
	reg := s.registerNodes(c, labelAddWebAuthn)
	// Kratos' order: the name, the button, the result input, the script.
	return append(nodes, reg[2], reg[3], reg[1], reg[0])
}

// webauthnSettings adds or removes a security key; both need a privileged
// session. Removing the last security key ends its aal2 claim on the
// identity's sessions.
func (s *SelfService) webauthnSettings(sub *submission) (*outcome, error) {
	if sub.res.Flow.Type != "browser" {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowSettings))}}, nil
	}
	add, remove := sub.str("webauthn_register"), sub.str("webauthn_remove")
	if add == "" && remove == "" {
		return &outcome{messages: []Text{noStrategyText(string(core.FlowSettings))}}, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	ident := sub.ident
	mfaOnly := s.webauthnSettingsKind()
	displayName := sub.str("webauthn_register_displayname")
	if displayName == "" {
		displayName = defaultSecurityKeyLabel
	}
	o := &outcome{}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ctx, tx := fc.Context(), fc.Tx()
		if remove != "" {
			if err := s.removeWebAuthn(ctx, tx, ident, remove, mfaOnly, "webauthn_remove", o); err != nil || o.next == "" {
				return err
			}
			if left, err := webauthnCredentials(ctx, tx, ident.ID, true); err != nil {
				return err
			} else if mfaOnly && len(left) == 0 {
				if _, err := identity.DropSessionMethod(ctx, tx, ident.ID, methodWebAuthn, s.now()); err != nil {
					return err
				}
			}
			return nil
		}
		cer, held := keyWebAuthnSettings.Get(fc.Stash())
		added := false
		if !held {
			o.messages = []Text{msgWebAuthnWrong}
		} else {
			_, err := s.securityKeys.FinishRegistration(ctx, tx, &cer.Session, webauthn.User{IdentityID: ident.ID, Name: s.passkeyName(ident)}, []byte(add), displayName)
			if err != nil {
				msg, ferr := ceremonyError(err, msgWebAuthnWrong)
				if ferr != nil {
					return ferr
				}
				s.errs.Log.InfoContext(ctx, "security key not added", "flow", fc.FlowID(), "error", err)
				o.messages = []Text{msg}
			}
			added = err == nil
		}
		renew, err := s.beginWebAuthnRegistration(ctx, tx, ident.ID, s.passkeyName(ident), keyWebAuthnSettings, mfaOnly)
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

// onlyMethod names the method whose nodes alone a flow shows, or "": the
// second screen of a passwordless security key login (Kratos resets the
// other nodes there).
func (s *SelfService) onlyMethod(kind core.FlowKind, res *flow.Result) string {
	if kind != core.FlowLogin || s.securityKeys == nil || !s.webauthnPasswordless() || res.Ended {
		return ""
	}
	if _, ok := keyWebAuthnIdentifier.Get(res.Stash); ok {
		return methodWebAuthn
	}
	return ""
}
