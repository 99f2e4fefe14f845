package kratos

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/webhook"
)

// The settings flow's states: the form, and the form after a saved change
// (settings flows never end; a user may save again).
const (
	stateShowForm = "show_form"
	stateSuccess  = "success"
)

func (s *SelfService) settingsDefinition() *flow.Builder {
	return flow.New("kratos_settings").
		InitialState(stateShowForm).
		State(stateShowForm, s.actions(core.FlowSettings)...).
		State(stateSuccess, s.actions(core.FlowSettings)...)
}

// settingsStrategies returns the enabled settings methods.
func (s *SelfService) settingsStrategies() []strategy {
	var out []strategy
	if s.cfg.Methods.Profile.Enabled {
		out = append(out, strategy{
			method:  "profile",
			inputs:  []flow.Input{{Name: "traits", Type: flow.TypeJSON}},
			nodes:   s.profileSettingsNodes,
			prepare: s.profileSettings,
		})
	}
	if s.cfg.Methods.Password.Enabled {
		out = append(out, strategy{
			method:  "password",
			inputs:  []flow.Input{{Name: "password", Type: flow.TypePassword}},
			nodes:   s.passwordSettingsNodes,
			prepare: s.passwordSettings,
		})
	}
	if s.totp != nil {
		out = append(out, s.totpSettingsStrategy())
	}
	if s.lookup != nil {
		out = append(out, s.lookupSettingsStrategy())
	}
	out = append(out, s.passkeyStrategy(core.FlowSettings)...)
	out = append(out, s.oidcSettingsStrategies()...)
	return append(out, s.webauthnStrategy(core.FlowSettings)...)
}

// settingsSubmitChecks requires the session of the flow's identity.
func (s *SelfService) settingsSubmitChecks(w http.ResponseWriter, r *http.Request, sub *submission, jsonAnswer bool) (bool, error) {
	if sub.sess == nil {
		if !jsonAnswer {
			redirect(w, r, s.url("self-service/login/browser", url.Values{"return_to": {s.uiURL(core.FlowSettings, sub.res.Flow.ID)}}))
			return true, nil
		}
		return false, noSession()
	}
	if sub.ident.ID != sub.res.Flow.IdentityID {
		return false, identityMismatch()
	}
	return s.settingsAAL(w, r, sub.sess, sub.ident, s.url("self-service/settings/browser", nil), jsonAnswer)
}

// profileSettingsNodes renders the traits with the identity's values.
func (s *SelfService) profileSettingsNodes(v *view) []Node {
	traits := v.value("traits")
	if traits == nil && v.ident != nil {
		traits = v.ident.Traits
	}
	nodes := traitNodes(s.schemaTraits(), groupProfile, traits, false)
	return append(nodes, submitNode(groupProfile, "method", "profile", labelSave))
}

func (s *SelfService) passwordSettingsNodes(*view) []Node {
	pw := inputNode(groupPassword, "password", "password", true, textPtr(labelPassword))
	pw.Attributes.Autocomplete = "new-password"
	return []Node{pw, submitNode(groupPassword, "method", "password", labelSave)}
}

// privileged reports whether the session authenticated recently enough for
// sensitive changes.
func (s *SelfService) privileged(sess *core.Session) bool {
	maxAge := s.cfg.Flows.Settings.PrivilegedSessionMaxAge
	if maxAge <= 0 {
		maxAge = 15 * time.Minute
	}
	return s.now().Before(sess.AuthenticatedAt.Add(maxAge))
}

// reauth is the error asking for a fresh login before a sensitive change.
func (s *SelfService) reauth(sub *submission) error {
	return refreshRequired(s.url("self-service/login/browser", url.Values{"refresh": {"true"},
		"return_to": {s.uiURL(core.FlowSettings, sub.res.Flow.ID)}}))
}

// draftOf returns a draft that keeps everything of i but what the caller
// changes.
func draftOf(i *core.Identity) identity.Draft {
	return identity.Draft{SchemaID: i.SchemaID, Traits: i.Traits, State: i.State, MetadataPublic: i.MetadataPublic,
		MetadataAdmin: i.MetadataAdmin, ExternalID: i.ExternalID, OrganizationID: i.OrganizationID}
}

// profileSettings saves new traits. Changing identifiers or addresses is
// sensitive and needs a privileged session.
func (s *SelfService) profileSettings(sub *submission) (*outcome, error) {
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
	if protectedChanged(sub.ident, ex) && !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	d := draftOf(sub.ident)
	d.Traits = traits
	p, err := s.ids.Prepare(sub.r.Context(), d)
	if core.ErrorCode(err) == core.CodeInvalid {
		o.messages = []Text{genericText(core.ErrorMessage(err))}
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	// The identity is written in the step's transaction, so a settings
	// step that fails (a concurrent submission, say) changes nothing.
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		i, err := s.saveSettings(c, sub.ident.ID, p, o)
		if err != nil || i == nil {
			return err
		}
		o.ident, o.next, o.messages, o.values = i, stateSuccess, []Text{msgSettingsSaved}, map[string]json.RawMessage{}
		o.traitsChanged = !bytes.Equal(sub.ident.Traits, i.Traits)
		return nil
	}
	return o, nil
}

// saveSettings writes the prepared identity in the step's transaction. A
// taken identifier or address, or a draft the identity service refuses,
// becomes a message on o and a nil identity; errors roll the step back.
func (s *SelfService) saveSettings(c *flow.ActionContext, id string, p *identity.Prepared, o *outcome) (*core.Identity, error) {
	fc := c.Base()
	i, err := s.ids.WithTx(fc.Tx()).UpdatePrepared(fc.Context(), id, p)
	switch {
	case takenInTx(err):
		o.messages = []Text{msgDuplicateCreds}
		return nil, nil
	case err != nil && core.ErrorCode(err) == core.CodeInvalid && !errors.Is(err, identity.ErrTxAborted):
		o.messages = []Text{genericText(core.ErrorMessage(err))}
		return nil, nil
	case err != nil:
		return nil, err
	}
	return i, nil
}

// protectedChanged reports whether new traits change the identity's login
// identifiers or its verifiable or recovery addresses.
func protectedChanged(old *core.Identity, ex *schema.Extracted) bool {
	var oldIDs []string
	if c, ok := old.Credential(core.CredentialPassword); ok {
		oldIDs = slices.Clone(c.Identifiers)
	}
	newIDs := slices.Clone(ex.Identifiers[core.CredentialPassword])
	slices.Sort(oldIDs)
	slices.Sort(newIDs)
	if !slices.Equal(oldIDs, newIDs) {
		return true
	}
	var oldAddr, newAddr []string
	for _, a := range old.Addresses {
		if a.Verifiable || a.Recovery {
			oldAddr = append(oldAddr, string(a.Via)+":"+a.Value)
		}
	}
	for _, list := range [][]schema.Address{ex.VerifiableAddresses, ex.RecoveryAddresses} {
		for _, a := range list {
			newAddr = append(newAddr, string(a.Via)+":"+a.Value)
		}
	}
	slices.Sort(oldAddr)
	slices.Sort(newAddr)
	return !slices.Equal(slices.Compact(oldAddr), slices.Compact(newAddr))
}

// passwordSettings sets a new password; it needs a privileged session.
func (s *SelfService) passwordSettings(sub *submission) (*outcome, error) {
	pw := sub.str("password")
	o := &outcome{}
	if pw == "" {
		o.nodeMessages = map[string][]Text{"password": {requiredText("password")}}
		return o, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	var ids []string
	if c, ok := sub.ident.Credential(core.CredentialPassword); ok {
		ids = c.Identifiers
	}
	if err := s.policy.CheckContext(sub.r.Context(), pw, ids...); err != nil {
		o.nodeMessages = map[string][]Text{"password": {policyText(err)}}
		return o, nil
	}
	d := draftOf(sub.ident)
	d.Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: pw}}
	p, err := s.ids.Prepare(sub.r.Context(), d) // hashes before the transaction
	if err != nil {
		return nil, err
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		i, err := s.saveSettings(c, sub.ident.ID, p, o)
		if err != nil || i == nil {
			return err
		}
		o.ident, o.next, o.messages = i, stateSuccess, []Text{msgSettingsSaved}
		return nil
	}
	return o, nil
}

// unmailed returns a copy of i keeping only the addresses no verification
// message was sent to yet (status pending, or unset). Like Kratos' settings
// hook, saving settings mails a new address, not every unverified one again:
// an address mailed at registration stays "sent" until it is verified.
func unmailed(i *core.Identity) *core.Identity {
	c := *i
	c.Addresses = nil
	for _, a := range i.Addresses {
		if a.Status == core.AddressPending || a.Status == "" {
			c.Addresses = append(c.Addresses, a)
		}
	}
	return &c
}

// finishSettings answers a settings step: 200 with the flow after a saved
// change (browsers go to return_to or the settings UI), else the form again.
func (s *SelfService) finishSettings(w http.ResponseWriter, r *http.Request, sub *submission, o *outcome, res *flow.Result, ident *core.Identity, tok []byte, jsonAnswer bool) {
	if s.oidcFinish(w, r, core.FlowSettings, sub, o, res, tok, jsonAnswer) {
		return
	}
	if o.next == "" {
		s.showForm(w, r, core.FlowSettings, res, ident, tok, jsonAnswer)
		return
	}
	if o.next == stateShowForm {
		// A step that only changes what the form shows (backup codes
		// revealed or generated): the flow again, with 200.
		if !jsonAnswer {
			redirect(w, r, s.uiURL(core.FlowSettings, res.Flow.ID))
			return
		}
		api.WriteJSON(w, http.StatusOK, s.render(r, core.FlowSettings, res, ident, tok))
		return
	}
	typ := res.Flow.Type
	method := val(keyActive, res.Stash)
	after := s.cfg.Flows.Settings.After
	hooks := methodAfter(after, method).Hooks
	if len(hooks) == 0 {
		hooks = after.Hooks
	}
	if _, err := s.runWebHooks(r, hooks, func() *webhook.Context {
		return s.hookContext(r, s.render(r, core.FlowSettings, res, ident, tok), s.hookIdentity(ident), nil)
	}, afterSel(o, webhook.SelectOthers)); err != nil {
		s.writeError(w, r, jsonAnswer, webHookError(err))
		return
	}
	var cw []ContinueWith
	if o.traitsChanged && s.verify != nil && s.cfg.Flows.Verification.Enabled {
		entries, err := s.verify(r.Context(), r, unmailed(ident), typ)
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		cw = append(cw, entries...)
	}
	ret := s.returnOrDefault(val(keyReturnTo, res.Stash), methodAfter(after, method).DefaultBrowserReturnURL,
		after.DefaultBrowserReturnURL, s.uiURL(core.FlowSettings, res.Flow.ID))
	if !jsonAnswer {
		redirect(w, r, ret)
		return
	}
	out := s.render(r, core.FlowSettings, res, ident, tok)
	if typ == "browser" {
		cw = append(cw, ContinueWith{Action: "redirect_browser_to", RedirectBrowserTo: ret})
	}
	out.ContinueWith = append(out.ContinueWith, cw...)
	api.WriteJSON(w, http.StatusOK, out)
}

// settingsAAL enforces selfservice.flows.settings.required_aal: a session
// below its identity's highest available AAL is sent to the aal2 login
// (browsers) or refused with 403 session_aal2_required. It reports whether
// it answered. returnTo is where the aal2 login returns: a settings flow
// init URL under /self-service (always an allowed return_to), which starts
// a fresh settings flow for the stepped-up session.
func (s *SelfService) settingsAAL(w http.ResponseWriter, r *http.Request, sess *core.Session, i *core.Identity, returnTo string, jsonAnswer bool) (bool, error) {
	step, err := s.needsAAL2(r.Context(), s.cfg.Flows.Settings.RequiredAAL, sess, i)
	if err != nil || !step {
		return false, err
	}
	to := s.aal2LoginURL(returnTo)
	if !jsonAnswer {
		redirect(w, r, to)
		return true, nil
	}
	return false, aal2Required(to)
}
