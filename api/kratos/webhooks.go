package kratos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// Kratos' web_hook hook (webhook.Kratos does the calls). Where the flows
// run them:
//   - <flow>.before.hooks (login, registration, settings): when a flow is
//     created, with ctx.flow; an interrupt or a failed synchronous call
//     answers an error instead of the flow.
//   - registration.after[.<method>].hooks: the interrupting ones
//     (can_interrupt, response.parse) before the identity is stored (every
//     method: password, passkey, webauthn, code once the code is right,
//     oidc from the callback or a native id_token), with
//     ctx.identity as it will be stored (a parsed answer changes its traits
//     and metadata; an interrupt shows its messages on the form); the
//     others once it is stored.
//   - login.after[.<method>].hooks: before the session is issued; an
//     interrupt issues none and reopens the flow with its messages
//     (interruptLogin).
//   - settings.after[.<method>].hooks: the interrupting ones before the
//     change is saved (preSettings: an interrupt saves nothing, a parsed
//     answer's traits and metadata are saved with it), the others once it
//     is saved.
//   - recovery.before.hooks, verification.before.hooks: when the flow is
//     created, as the other before hooks.
//   - recovery.after.hooks: once the code or link proved the address,
//     before the privileged session is stored, with ctx.identity (Kratos'
//     PostRecoveryHook); an interrupt answers a new recovery flow with the
//     hook's messages, and no session is issued.
//   - verification.after.hooks: once the code or link is known to be
//     right, before the address is marked verified (Kratos'
//     PostVerificationHook); an interrupt uses the code up, answers a new
//     verification flow with the hook's messages, and the address stays
//     unverified.
//   In both, the response.ignore hooks are queued in the transaction of
//   the step that recovers or verifies.

// hookContext is ctx for a body template of a request r.
func (s *SelfService) hookContext(r *http.Request, flowView any, ident any, sess any) *webhook.Context {
	c := &webhook.Context{RequestHeaders: webhook.RequestHeaders(r.Header), RequestMethod: r.Method,
		RequestURL: requestURL(r, s.public), RequestCookies: webhook.RequestCookies(r)}
	c.Flow, _ = json.Marshal(flowView)
	if ident != nil {
		c.Identity, _ = json.Marshal(ident)
	}
	if sess != nil {
		c.Session, _ = json.Marshal(sess)
	}
	c.TransientPayload, _ = r.Context().Value(transientKey{}).(json.RawMessage)
	return c
}

// afterHooks is what the answer to a finished step runs of the after
// hooks: which hooks, the selection, the flow kind ctx.flow is rendered as
// and the identity. ok is false when the answer runs none. It mirrors
// finishLogin, finishRegistration, finishSettings, oidcFinish and
// finishExchange.
type afterHooks struct {
	hooks []config.Hook
	sel   webhook.Select
	kind  core.FlowKind
	ident *core.Identity
	noTok bool
}

func (s *SelfService) afterHookPlan(kind core.FlowKind, sub *submission, o *outcome, res *flow.Result, jsonAnswer bool) (afterHooks, bool) {
	method := val(keyActive, res.Stash)
	switch {
	case o.redirect != "":
		return afterHooks{}, false
	case res.Ended && res.Flow.Type == "api" && keyExchange.Has(res.Stash) && !jsonAnswer && o.identityID != "":
		if o.oidcSignedUp || (res.Flow.Kind == core.FlowRegistration && !o.oidcLogin) {
			return afterHooks{s.registrationHooks("oidc"), webhook.SelectOthers, res.Flow.Kind, o.ident, true}, true
		}
		return afterHooks{s.loginHookList("oidc"), webhook.SelectAll, res.Flow.Kind, o.ident, true}, true
	case res.Ended && kind == core.FlowLogin && o.oidcSignedUp, res.Ended && kind == core.FlowRegistration && !o.oidcLogin:
		return afterHooks{s.registrationHooks(method), webhook.SelectOthers, core.FlowRegistration, o.ident, false}, true
	case res.Ended && (kind == core.FlowLogin || kind == core.FlowRegistration):
		return afterHooks{s.loginHookList(method), webhook.SelectAll, core.FlowLogin, o.ident, false}, true
	case kind == core.FlowSettings && o.next != "" && o.next != stateShowForm:
		hooks := methodAfter(s.cfg.Flows.Settings.After, method).Hooks
		if len(hooks) == 0 {
			hooks = s.cfg.Flows.Settings.After.Hooks
		}
		ident := o.ident
		if ident == nil {
			ident = sub.ident
		}
		return afterHooks{hooks, webhook.SelectOthers, core.FlowSettings, ident, false}, true
	}
	return afterHooks{}, false
}

// queueAfterHooks returns the flow.Submission.InTx of a step: when the
// step finished a login, registration or settings change, it queues the
// asynchronous (response.ignore) after-hooks the answer would run, in the
// step's transaction, so that the change never commits without its calls;
// the answer then calls only the synchronous ones (afterSel). hookReq is
// the request as the answer will see it.
func (s *SelfService) queueAfterHooks(kind core.FlowKind, sub *submission, o *outcome, tok []byte, jsonAnswer bool, hookReq func() *http.Request) func(context.Context, store.Tx, *flow.Result) error {
	return func(ctx context.Context, tx store.Tx, res *flow.Result) error {
		o.hooksQueued = false
		if s.webhooks == nil {
			return nil
		}
		p, ok := s.afterHookPlan(kind, sub, o, res, jsonAnswer)
		if !ok || !webhook.Has(p.hooks, p.sel|webhook.SelectQueued) {
			return nil
		}
		if p.sel == webhook.SelectAll && webhook.Has(p.hooks, webhook.SelectInterrupting) {
			// After login a hook may still interrupt once the step
			// committed: the answer runs the list in order before it
			// issues the session, queueing the asynchronous calls as it
			// meets them, so that none is queued for a login that an
			// earlier hook in the list stopped (as in Kratos). A login is
			// then never issued without its queued calls either.
			return nil
		}
		r, t := hookReq(), tok
		if p.noTok {
			t = nil
		}
		c := s.hookContext(r, s.render(r, p.kind, res, p.ident, t), s.hookIdentity(p.ident), nil)
		if err := s.webhooks.Enqueue(ctx, tx, p.hooks, c, p.sel); err != nil {
			return err
		}
		o.hooksQueued = true
		return nil
	}
}

// afterSel is the selection the answer to a step calls after hooks with:
// only the synchronous ones when the step's transaction queued the others.
func afterSel(o *outcome, sel webhook.Select) webhook.Select {
	if o.hooksQueued {
		return sel | webhook.SelectSync
	}
	return sel
}

// runWebHooks runs the web hooks of hooks that sel takes; nil without any.
func (s *SelfService) runWebHooks(r *http.Request, hooks []config.Hook, c func() *webhook.Context, sel webhook.Select) (*webhook.IdentityPatch, error) {
	if s.webhooks == nil || !webhook.Has(hooks, sel) {
		return nil, nil
	}
	return s.webhooks.Run(r.Context(), hooks, c(), sel)
}

// webHookError turns a web hook failure into Kratos' error: an interrupt
// is a 400 with the hook's messages, a failed call Kratos' 502 (504 when
// it timed out).
func webHookError(err error) error {
	var in *webhook.Interrupt
	if errors.As(err, &in) {
		flowMsgs, nodeMsgs := interruptTexts(in)
		var all []Text
		all = append(all, flowMsgs...)
		for _, ts := range nodeMsgs {
			all = append(all, ts...)
		}
		reason := "A web hook interrupted the flow."
		if len(all) > 0 {
			reason = all[0].Text
		}
		return &kratosError{status: http.StatusBadRequest, reason: reason,
			message: "The request was rejected by a web hook.", details: map[string]any{"messages": in.Messages}}
	}
	var ue *webhook.UpstreamError
	if errors.As(err, &ue) {
		if ue.Timeout {
			return &kratosError{status: http.StatusGatewayTimeout,
				reason: "A third-party upstream service could not be reached. Please try again later.", message: "A web hook timed out."}
		}
		return &kratosError{status: http.StatusBadGateway,
			reason: "A third-party upstream service responded improperly. Please try again later.", message: "A web hook failed."}
	}
	return &core.Error{Code: core.CodeInternal, Message: "Running a web hook failed.", Cause: err}
}

// interruptTexts splits an interrupt's messages into the flow's ("#/" or
// no pointer) and the nodes' (by node name: "#/traits/email" is
// traits.email).
func interruptTexts(in *webhook.Interrupt) ([]Text, map[string][]Text) {
	var flowMsgs []Text
	nodeMsgs := map[string][]Text{}
	for _, fm := range in.Messages {
		name := strings.ReplaceAll(strings.Trim(strings.TrimPrefix(fm.InstancePtr, "#"), "/"), "/", ".")
		for _, m := range fm.Messages {
			t := Text{ID: int(m.ID), Text: m.Text, Type: textError}
			if m.Type != "error" {
				t.Type = textInfo
			}
			if len(m.Context) > 0 {
				_ = json.Unmarshal(m.Context, &t.Context)
			}
			if name == "" {
				flowMsgs = append(flowMsgs, t)
			} else {
				nodeMsgs[name] = append(nodeMsgs[name], t)
			}
		}
	}
	return flowMsgs, nodeMsgs
}

// registrationHooks returns the after-registration hooks of method.
func (s *SelfService) registrationHooks(method string) []config.Hook {
	a := s.cfg.Flows.Registration.After
	if h := methodAfter(a, method).Hooks; len(h) > 0 {
		return h
	}
	return a.Hooks
}

// loginHookList returns the after-login hooks of method.
func (s *SelfService) loginHookList(method string) []config.Hook {
	a := s.cfg.Flows.Login.After
	if h := methodAfter(a, method).Hooks; len(h) > 0 {
		return h
	}
	return a.Hooks
}

// beforeHooks returns kind's before hooks.
func (s *SelfService) beforeHooks(kind core.FlowKind) []config.Hook {
	switch kind {
	case core.FlowLogin:
		return s.cfg.Flows.Login.Before.Hooks
	case core.FlowRegistration:
		return s.cfg.Flows.Registration.Before.Hooks
	case core.FlowSettings:
		return s.cfg.Flows.Settings.Before.Hooks
	case core.FlowRecovery:
		return s.cfg.Flows.Recovery.Before.Hooks
	case core.FlowVerification:
		return s.cfg.Flows.Verification.Before.Hooks
	}
	return nil
}

// addressAfterHooks are the web hooks that run when a recovery or a
// verification succeeds (Kratos has no per-method lists for them).
func (s *SelfService) addressAfterHooks(kind core.FlowKind) []config.Hook {
	if kind == core.FlowRecovery {
		return s.cfg.Flows.Recovery.After.Hooks
	}
	return s.cfg.Flows.Verification.After.Hooks
}

// runAddressAfterHooks runs the synchronous recovery.after hooks for old, a
// recovery flow whose code or link proved ident's address (typ is the type
// a retry gets: browser for a link from a message; queued tells that the
// step's transaction queued the asynchronous ones). It reports whether the
// recovery may go on; when not, it has answered: an interrupt with a new
// recovery flow carrying the hook's messages (retryAddressFlow), a failed
// call with Kratos' 502/504. A parsed answer's identity is not saved, as
// in Kratos (config warns about response.parse there).
func (s *SelfService) runAddressAfterHooks(w http.ResponseWriter, r *http.Request, kind core.FlowKind, typ string, old *flow.Result, ident *core.Identity, queued, jsonAnswer bool) bool {
	sel := webhook.SelectAll
	if queued {
		sel |= webhook.SelectSync
	}
	_, err := s.runWebHooks(r, s.addressAfterHooks(kind), func() *webhook.Context {
		return s.hookContext(r, s.renderAddress(r, kind, old, nil), s.hookIdentity(ident), nil)
	}, sel)
	var in *webhook.Interrupt
	switch {
	case err == nil:
		return true
	case errors.As(err, &in):
		s.retryAddressFlow(w, r, kind, typ, old, in, jsonAnswer)
	default:
		s.writeError(w, r, jsonAnswer, webHookError(err))
	}
	return false
}

// retryAddressFlow answers an interrupted recovery or verification as
// Kratos' retry does: a new flow of kind and typ (keeping return_to) shows the interrupt's messages; browsers go to its UI, JSON
// clients of a recovery are sent to fetch it (303, Kratos' answer without
// continue_with transitions) and of a verification get 410
// self_service_flow_replaced with its id.
func (s *SelfService) retryAddressFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind, typ string, old *flow.Result, in *webhook.Interrupt, jsonAnswer bool) {
	flowMsgs, nodeMsgs := interruptTexts(in)
	reqURL, _ := keyRequestURL.Get(old.Stash)
	if reqURL == "" || typ != old.Flow.Type {
		reqURL = s.url("self-service/"+string(kind)+"/"+typ, nil)
	}
	ret, _ := keyReturnTo.Get(old.Stash)
	var tok []byte
	if typ == "browser" {
		var err error
		if tok, err = s.csrf.ensure(w, r); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	res, err := s.start(r.Context(), kind, typ, reqURL, ret, tok, initState{seed: func(st *flow.Stash) {
		if len(flowMsgs) > 0 {
			keyMessages.Set(st, flowMsgs)
		}
		if len(nodeMsgs) > 0 {
			keyNodeMessages.Set(st, nodeMsgs)
		}
	}})
	switch {
	case err != nil:
		s.writeError(w, r, jsonAnswer, err)
	case !jsonAnswer:
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
	case kind == core.FlowRecovery:
		redirect(w, r, s.url("self-service/recovery/flows", url.Values{"id": {res.Flow.ID}}))
	default:
		s.writeError(w, r, true, flowReplaced(res.Flow.ID))
	}
}

// preRegistration runs the interrupting after-registration web hooks of
// method on the identity d is about to create (giving d its id now, so the
// hooks see it): a parsed answer changes d's traits and metadata; an
// interrupt puts its messages on o and returns true (the step fails).
func (s *SelfService) preRegistration(sub *submission, method string, d *identity.Draft, o *outcome) (bool, error) {
	hooks := s.registrationHooks(method)
	if s.webhooks == nil || !webhook.Has(hooks, webhook.SelectInterrupting) {
		return false, nil
	}
	if d.ID == "" {
		d.ID = uuid.NewString()
	}
	schemaID := d.SchemaID
	if schemaID == "" {
		schemaID = s.ids.DefaultSchemaID()
	}
	ident := map[string]any{"id": d.ID, "schema_id": schemaID, "state": "active", "traits": d.Traits,
		"metadata_public": d.MetadataPublic, "metadata_admin": d.MetadataAdmin}
	view := s.render(sub.r, sub.res.Flow.Kind, sub.res, nil, nil)
	patch, err := s.runWebHooks(sub.r, hooks, func() *webhook.Context { return s.hookContext(sub.r, view, ident, nil) }, webhook.SelectInterrupting)
	var in *webhook.Interrupt
	if errors.As(err, &in) {
		o.messages, o.nodeMessages = interruptTexts(in)
		if len(o.nodeMessages) == 0 {
			o.nodeMessages = nil
		}
		return true, nil
	}
	if err != nil {
		return false, webHookError(err)
	}
	if patch != nil {
		if patch.Traits != nil {
			d.Traits = patch.Traits
			o.values = keep("traits", patch.Traits)
		}
		if patch.MetadataPublic != nil {
			d.MetadataPublic = patch.MetadataPublic
		}
		if patch.MetadataAdmin != nil {
			d.MetadataAdmin = patch.MetadataAdmin
		}
	}
	return false, nil
}

// interruptLogin answers a login whose after hook interrupted it, as
// Kratos does: no session is issued (the hooks run before one is), and the
// flow, open again in the state the step left, shows the hook's messages
// (browsers are sent to it, JSON clients get it with 400). What the step
// used up stays used (a login code), as in Kratos.
func (s *SelfService) interruptLogin(w http.ResponseWriter, r *http.Request, sub *submission, res *flow.Result, in *webhook.Interrupt, tok []byte, jsonAnswer bool) {
	kind := res.Flow.Kind
	msgs, nodeMsgs := interruptTexts(in)
	again, err := s.engine.Reopen(r.Context(), s.defs[kind], res.Flow.ID, sub.res.Flow.IdentityID, func(st *flow.Stash) {
		keyMessages.Delete(st)
		keyNodeMessages.Delete(st)
		if len(msgs) > 0 {
			keyMessages.Set(st, msgs)
		}
		if len(nodeMsgs) > 0 {
			keyNodeMessages.Set(st, nodeMsgs)
		}
	})
	if err != nil {
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeInternal, Message: "Stopping the sign-in failed.", Cause: err})
		return
	}
	s.showForm(w, r, kind, again, sub.ident, tok, jsonAnswer)
}

// settingsHookList returns the after-settings hooks of method.
func (s *SelfService) settingsHookList(method string) []config.Hook {
	a := s.cfg.Flows.Settings.After
	if h := methodAfter(a, method).Hooks; len(h) > 0 {
		return h
	}
	return a.Hooks
}

// preSettings runs the interrupting after-settings web hooks of method
// (Kratos' settings pre-persist hooks) for a step that changes the
// identity (o.tx saves it), before its transaction, with ctx.identity as
// it will be saved (the submitted traits for the profile method). An
// interrupt makes the step fail with the hook's messages, so nothing is
// saved; a parsed answer's traits and metadata are saved with the change,
// in its transaction (traits the schema refuses fail the step first).
// The hooks run before the method's own checks that need the transaction
// (a TOTP code, a passkey attestation), as Kratos' run before the identity
// is updated.
func (s *SelfService) preSettings(sub *submission, method string, o *outcome) (*outcome, error) {
	hooks := s.settingsHookList(method)
	if o.tx == nil || sub.ident == nil || s.webhooks == nil || !webhook.Has(hooks, webhook.SelectInterrupting) {
		return o, nil
	}
	ident := *sub.ident
	if t, ok := o.values["traits"]; ok && method == "profile" {
		ident.Traits = t
	}
	view := s.render(sub.r, core.FlowSettings, sub.res, sub.ident, nil)
	patch, err := s.runWebHooks(sub.r, hooks, func() *webhook.Context {
		return s.hookContext(sub.r, view, s.hookIdentity(&ident), nil)
	}, webhook.SelectInterrupting)
	var in *webhook.Interrupt
	if errors.As(err, &in) {
		stop := &outcome{values: o.values}
		stop.messages, stop.nodeMessages = interruptTexts(in)
		if len(stop.nodeMessages) == 0 {
			stop.nodeMessages = nil
		}
		return stop, nil
	}
	if err != nil {
		return nil, webHookError(err)
	}
	if patch == nil {
		return o, nil
	}
	d := draftOf(&ident)
	if patch.Traits != nil {
		d.Traits = patch.Traits
		if _, msgs, err := s.checkTraits(patch.Traits); err != nil || msgs != nil {
			return &outcome{values: keep("traits", patch.Traits), nodeMessages: msgs}, err
		}
	}
	if patch.MetadataPublic != nil {
		d.MetadataPublic = patch.MetadataPublic
	}
	if patch.MetadataAdmin != nil {
		d.MetadataAdmin = patch.MetadataAdmin
	}
	p, err := s.ids.Prepare(sub.r.Context(), d)
	if core.ErrorCode(err) == core.CodeInvalid {
		return &outcome{values: o.values, messages: []Text{genericText(core.ErrorMessage(err))}}, nil
	}
	if err != nil {
		return nil, err
	}
	change := o.tx
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		if err := change(c, o); err != nil || o.next != stateSuccess {
			return err
		}
		i, err := s.saveSettings(c, sub.ident.ID, p, o)
		if err != nil {
			return err
		}
		if i == nil {
			// The identity the hook answered cannot be stored (an
			// identifier of another account): the change rolls back.
			return &hookIdentityRefused{messages: o.messages}
		}
		o.ident, o.traitsChanged = i, !bytes.Equal(sub.ident.Traits, i.Traits)
		if patch.Traits != nil {
			o.values = map[string]json.RawMessage{}
		}
		return nil
	}
	return o, nil
}

// hookIdentityRefused rolls back a settings step whose web hook answered
// with an identity that cannot be stored (an identifier or address of
// another account): the step's own change is undone with it, and the
// answer is the flow with the reason (Kratos: 4000007), not a server error.
type hookIdentityRefused struct{ messages []Text }

func (e *hookIdentityRefused) Error() string {
	return "the identity a web hook answered with cannot be saved: " + textsOf(e.messages)
}

// textsOf joins the texts of messages for an error message.
func textsOf(messages []Text) string {
	parts := make([]string, len(messages))
	for i, m := range messages {
		parts[i] = m.Text
	}
	return strings.Join(parts, " ")
}

// hookIdentity is ctx.identity: the identity as the admin API shows it
// (metadata_admin included, no credentials); nil without one.
func (s *SelfService) hookIdentity(i *core.Identity) any {
	if i == nil {
		return nil
	}
	return NewIdentityJSON(i, s.public, false, nil, nil)
}
