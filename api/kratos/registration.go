package kratos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/webhook"
)

// keyScreen is the registration screen of the profile_first style: "" for
// the traits, "credential-selection" for the credentials.
var keyScreen = flow.NewKey[string]("kratos.registration.screen")

const screenCredentials = "credential-selection"

func (s *SelfService) registrationDefinition() *flow.Builder {
	return flow.New("kratos_registration").
		InitialState(stateChooseMethod).
		State(stateChooseMethod, s.actions(core.FlowRegistration)...).
		State(stateSentEmail, s.actions(core.FlowRegistration)...). // a registration code was sent (strategy_code_login.go)
		EndState(statePassedChallenge)
}

// registrationStrategies returns the enabled registration methods: profile
// (the traits screen of the profile_first style) and password.
func (s *SelfService) registrationStrategies() []strategy {
	var out []strategy
	twoStep := s.twoStepRegistration()
	if twoStep {
		out = append(out, strategy{
			method:  "profile",
			inputs:  []flow.Input{{Name: "traits", Type: flow.TypeJSON}, {Name: "screen", Type: flow.TypeString}},
			nodes:   s.profileRegistrationNodes,
			prepare: s.profileRegistration,
		})
	}
	if s.cfg.Methods.Password.Enabled {
		out = append(out, strategy{
			method:  "password",
			inputs:  []flow.Input{{Name: "traits", Type: flow.TypeJSON}, {Name: "password", Type: flow.TypePassword}},
			nodes:   func(v *view) []Node { return s.passwordRegistrationNodes(v, twoStep) },
			prepare: s.passwordRegistration,
		})
	}
	out = append(out, s.passkeyStrategy(core.FlowRegistration)...)
	return append(out, s.webauthnStrategy(core.FlowRegistration)...)
}

// twoStepRegistration reports whether registration is profile_first: the
// traits on one screen, the credentials on the next.
func (s *SelfService) twoStepRegistration() bool {
	return s.style == config.RegistrationProfileFirst && s.cfg.Methods.Profile.Enabled
}

// schemaTraits returns the trait fields of the default identity schema.
func (s *SelfService) schemaTraits() []traitField {
	sch, err := s.ids.Schemas().Schema(s.ids.DefaultSchemaID())
	if err != nil {
		return nil
	}
	return s.schemaFields(sch)
}

// profileRegistrationNodes renders the profile_first screens (notes §3.2).
func (s *SelfService) profileRegistrationNodes(v *view) []Node {
	traits := v.value("traits")
	if val(keyScreen, v.res.Stash) == screenCredentials {
		nm, _ := keyNodeMessages.Get(v.res.Stash)
		nodes := hiddenTraitNodes(s.schemaTraits(), groupDefault, traits, nm)
		back := submitNode(groupProfile, "screen", "previous", labelBack)
		return append(nodes, back)
	}
	nodes := traitNodes(s.schemaTraits(), groupDefault, traits, false)
	return append(nodes, submitNode(groupProfile, "method", "profile", labelSignUp))
}

// passwordRegistrationNodes renders the password method: with the traits in
// the unified style, on the second screen only in the profile_first style.
func (s *SelfService) passwordRegistrationNodes(v *view, twoStep bool) []Node {
	var nodes []Node
	if twoStep {
		if val(keyScreen, v.res.Stash) != screenCredentials {
			return nil
		}
	} else {
		nodes = traitNodes(s.schemaTraits(), groupDefault, v.value("traits"), false)
	}
	pw := inputNode(groupPassword, "password", "password", true, textPtr(labelPassword))
	pw.Attributes.Autocomplete = "new-password"
	return append(nodes, pw, submitNode(groupPassword, "method", "password", labelSignUp))
}

// traitsOf returns the submitted traits as JSON ({} when absent).
func traitsOf(sub *submission) json.RawMessage {
	t, ok := sub.body["traits"].(map[string]any)
	if !ok {
		return json.RawMessage(`{}`)
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return raw
}

// checkTraits validates traits against the default schema and returns what
// the extension derives, or the node messages of every violation.
func (s *SelfService) checkTraits(traits json.RawMessage) (*schema.Extracted, map[string][]Text, error) {
	sch, err := s.ids.Schemas().Schema(s.ids.DefaultSchemaID())
	if err != nil {
		return nil, nil, &core.Error{Code: core.CodeInternal, Message: "The identity schema is missing.", Cause: err}
	}
	ex, err := sch.Extract(traits)
	var ve *schema.ValidationError
	switch {
	case errors.As(err, &ve):
		return nil, causesToMessages(ve.Causes), nil
	case core.ErrorCode(err) == core.CodeInvalid:
		return nil, map[string][]Text{"traits": {genericText(core.ErrorMessage(err))}}, nil
	case err != nil:
		return nil, nil, &core.Error{Code: core.CodeInternal, Message: "Validating the traits failed.", Cause: err}
	}
	return ex, nil, nil
}

// causesToMessages turns schema violations into node messages with Kratos'
// ids, keyed by node name (traits.email).
func causesToMessages(causes []schema.Cause) map[string][]Text {
	out := map[string][]Text{}
	for _, c := range causes {
		name := c.NodeName()
		if name == "" {
			name = "traits"
		}
		out[name] = append(out[name], Text{ID: c.ID, Text: c.Message, Type: textError, Context: c.Context})
	}
	return out
}

// profileRegistration moves between the two screens of profile_first.
func (s *SelfService) profileRegistration(sub *submission) (*outcome, error) {
	traits := traitsOf(sub)
	o := &outcome{values: keep("traits", traits)}
	if sub.str("screen") == "previous" {
		o.stash = func(st *flow.Stash) { keyScreen.Delete(st) }
		return o, nil
	}
	_, msgs, err := s.checkTraits(traits)
	if err != nil {
		return nil, err
	}
	if msgs != nil {
		o.nodeMessages = msgs
		return o, nil
	}
	// Like Kratos, the screen change carries 1040009 ("choose a
	// credential"); the next step's answer, failed or not, replaces it.
	o.stash = func(st *flow.Stash) { keyScreen.Set(st, screenCredentials) }
	o.clearActive, o.messages = true, []Text{msgChooseCred}
	return o, nil
}

// passwordRegistration creates the identity with a password credential.
// The draft is validated and the password hashed here, before the step's
// transaction (hashing must not hold it); the identity is stored inside the
// step's transaction, so a step that fails leaves no identity behind.
func (s *SelfService) passwordRegistration(sub *submission) (*outcome, error) {
	traits := traitsOf(sub)
	pw := sub.str("password")
	o := &outcome{values: keep("traits", traits)}
	ex, msgs, err := s.checkTraits(traits)
	if err != nil {
		return nil, err
	}
	if msgs == nil {
		msgs = map[string][]Text{}
	}
	if pw == "" {
		msgs["password"] = []Text{requiredText("password")}
	} else if ex != nil {
		if err := s.policy.CheckContext(sub.r.Context(), pw, ex.Identifiers[core.CredentialPassword]...); err != nil {
			msgs["password"] = []Text{policyText(err)}
		}
	}
	if len(msgs) > 0 {
		o.nodeMessages = msgs
		return o, nil
	}
	d := identity.Draft{Traits: traits, Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: pw}}}
	if stop, err := s.preRegistration(sub, "password", &d, o); stop || err != nil {
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
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		i, err := s.ids.WithTx(fc.Tx()).CreatePrepared(fc.Context(), p)
		if takenInTx(err) {
			o.messages = []Text{msgDuplicateCreds}
			return nil
		}
		if err != nil {
			return err
		}
		o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
		return nil
	}
	return o, nil
}

// takenInTx reports whether err is identity's CodeConflict found before
// anything was written, so that the step's transaction may go on and show
// the duplicate message. A conflict only the insert found (ErrTxAborted: a
// concurrent registration committed meanwhile) rolls the step back instead;
// submitFlow then runs it once more (see lostRace).
func takenInTx(err error) bool {
	return err != nil && core.ErrorCode(err) == core.CodeConflict && !errors.Is(err, identity.ErrTxAborted)
}

// lostRace reports whether a step failed because its identity write lost a
// race for an identifier to a concurrent transaction: the step rolled back,
// and running it again lets its look-ups see the winner.
func lostRace(err error) bool {
	return errors.Is(err, identity.ErrTxAborted) && core.ErrorCode(err) == core.CodeConflict
}

// policyText maps a password policy error to Kratos' message.
func policyText(err error) Text {
	var pe *password.PolicyError
	if !errors.As(err, &pe) {
		return genericText(core.ErrorMessage(err))
	}
	switch pe.Reason {
	case password.ReasonTooShort:
		return Text{ID: MsgPasswordMinLength, Type: textError,
			Text:    fmt.Sprintf("The password must be at least %d characters long, but got %d.", pe.Min, pe.Actual),
			Context: map[string]any{"min_length": pe.Min, "actual_length": pe.Actual}}
	case password.ReasonTooLong:
		return Text{ID: MsgPasswordMaxLength, Type: textError,
			Text:    fmt.Sprintf("The password must be at most %d characters long, but got %d.", pe.Max, pe.Actual),
			Context: map[string]any{"max_length": pe.Max, "actual_length": pe.Actual}}
	case password.ReasonTooSimilar:
		return msgTooSimilar
	case password.ReasonBreached:
		return Text{ID: MsgPasswordTooManyBreaches, Type: textError, Text: pe.Error(), Context: map[string]any{"breaches": pe.Breaches}}
	case password.ReasonUnchecked:
		reason := "it could not be checked against known data breaches; try again later"
		return Text{ID: MsgPasswordPolicyViolation, Type: textError,
			Text: "The password can not be used because " + reason + ".", Context: map[string]any{"reason": reason}}
	}
	return genericText(pe.Error())
}

// registrationResponse is successfulNativeRegistration.
type registrationResponse struct {
	Identity     IdentityJSON   `json:"identity"`
	Session      *SessionJSON   `json:"session,omitempty"`
	SessionToken string         `json:"session_token,omitempty"`
	ContinueWith []ContinueWith `json:"continue_with,omitempty"`
}

// finishRegistration answers a registration step: the form again, or the
// new identity after the configured hooks ran.
func (s *SelfService) finishRegistration(w http.ResponseWriter, r *http.Request, sub *submission, o *outcome, res *flow.Result, tok []byte, jsonAnswer bool) {
	if s.oidcFinish(w, r, core.FlowRegistration, sub, o, res, tok, jsonAnswer) {
		return
	}
	if !res.Ended && o.relocate {
		s.relocateForm(w, r, core.FlowRegistration, res, jsonAnswer)
		return
	}
	if !res.Ended {
		s.showForm(w, r, core.FlowRegistration, res, nil, tok, jsonAnswer)
		return
	}
	typ := res.Flow.Type
	method := val(keyActive, res.Stash)
	after := s.cfg.Flows.Registration.After
	hooks := hookNames(after.Hooks, methodAfter(after, method).Hooks)
	resp := registrationResponse{Identity: publicIdentity(o.ident, s.public)}
	if _, err := s.runWebHooks(r, s.registrationHooks(method), func() *webhook.Context {
		return s.hookContext(r, s.render(r, core.FlowRegistration, res, o.ident, tok), s.hookIdentity(o.ident), nil)
	}, afterSel(o, webhook.SelectOthers)); err != nil {
		s.writeError(w, r, jsonAnswer, webHookError(err))
		return
	}
	if s.hasHook(hooks, "session") {
		out, err := s.issueSession(w, r, o.identityID, method, typ)
		if err == nil && typ == "browser" {
			_, err = s.csrf.rotate(w)
		}
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		sj := s.sessionJSON(out.session, o.ident)
		resp.Session = &sj
		if typ == "api" {
			resp.SessionToken = out.token
			resp.ContinueWith = append(resp.ContinueWith, ContinueWith{Action: "set_ory_session_token", OrySessionToken: out.token})
		}
	}
	ret := s.returnOrDefault(val(keyReturnTo, res.Stash), methodAfter(after, method).DefaultBrowserReturnURL, after.DefaultBrowserReturnURL)
	var verifyURL string
	if s.verify != nil && s.cfg.Flows.Verification.Enabled {
		cw, err := s.verify(r.Context(), r, o.ident, typ)
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		if s.hasHook(hooks, "show_verification_ui") {
			for _, c := range cw {
				if c.Flow != nil && c.Flow.URL != "" && verifyURL == "" {
					verifyURL = c.Flow.URL
				}
			}
		}
		resp.ContinueWith = append(resp.ContinueWith, cw...)
	}
	if !jsonAnswer {
		if verifyURL != "" {
			ret = verifyURL
		}
		redirect(w, r, ret)
		return
	}
	if typ == "browser" {
		resp.ContinueWith = append(resp.ContinueWith, ContinueWith{Action: "redirect_browser_to", RedirectBrowserTo: ret})
	}
	api.WriteJSON(w, http.StatusOK, resp)
}
