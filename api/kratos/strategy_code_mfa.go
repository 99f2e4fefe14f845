package kratos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
)

// A code as second factor (Kratos' code strategy with
// selfservice.methods.code.mfa_enabled; notes §3.1 "code as 2nd factor").
//
// An ?aal=aal2 login flow of an identity whose code credential lists
// verified addresses (method/code.SecondFactorAddresses) shows one
// "address" submit button per address, labelled 1010023 "Send code to …".
// Pressing one (a body with address and no method, as Kratos' UIs send it;
// or method code with address or identifier) sends a login code to that
// address through the courier (template login_code_valid) and moves the
// flow to sent_email: the address as a hidden identifier, the code field,
// Continue and Resend, message 1010025. The right code completes the login
// at aal2: the caller's session gains {method: code, aal: aal2} in place.
// Codes are the method/code ones (keyed hash bound to the flow and address,
// constant-time check, single use, code.config.lifespan and
// max_submissions); every check counts against the shared attempt policy
// (ratelimit kind code, per identity and IP), every send against the
// address's send limit.
//
// ?via=<trait> on the aal2 flow's creation names the trait whose address
// the code goes to (the buttons narrow to it); and when only one address
// is left and the identity has no other second factor, the code is sent as
// the flow is created (Kratos' FastLogin2FA): the flow starts in
// sent_email.

// Kratos' message ids of the code method as a second factor.
const (
	MsgLoginAAL2CodeAddress         = 1010023
	MsgLoginCodeSentToAuthenticated = 1010025
)

// keyCodeVia is the address ?via= chose at the flow's creation.
var keyCodeVia = flow.NewStickyKey[string]("kratos.code.via")

var msgLoginCodeSentMFA = infoText(MsgLoginCodeSentToAuthenticated, "A code was sent to your address. If you didn't receive it, please try again.")

// sendCodeToText is the label of an address button (Kratos'
// NewInfoSelfServiceLoginAAL2CodeAddress).
func sendCodeToText(a code.Address) Text {
	return Text{ID: MsgLoginAAL2CodeAddress, Type: textInfo, Text: "Send code to " + a.Address,
		Context: map[string]any{"address": a.Address, "channel": a.Channel}}
}

// codeMFA reports whether a code is offered as second factor: code and
// code.mfa_enabled are on and the courier is wired.
func (s *SelfService) codeMFA() bool {
	c := s.cfg.Methods.Code
	return s.addr != nil && c.Enabled && c.MFAEnabled
}

func (s *SelfService) codeFactor() secondFactor {
	return secondFactor{
		strategy: strategy{method: methodCode,
			inputs: []flow.Input{{Name: "address", Type: flow.TypeString, TrimSpace: true, MaxLength: 320},
				{Name: "identifier", Type: flow.TypeString, TrimSpace: true, MaxLength: 320},
				{Name: "code", Type: flow.TypeString, TrimSpace: true, MaxLength: 64},
				{Name: "resend", Type: flow.TypeString, MaxLength: 32}},
			nodes:   s.codeMFANodes,
			prepare: s.codeMFALogin,
			// An address button submits address=… and no method.
			fields: []string{"address"}},
		configured: func(_ context.Context, i *core.Identity) (bool, error) {
			to, err := code.SecondFactorAddresses(i)
			return len(to) > 0, err
		},
		aal: core.AAL2,
	}
}

// codeMFANodes are the address buttons, or, once a code was sent, the
// code form.
func (s *SelfService) codeMFANodes(v *view) []Node {
	if v.res.State == stateSentEmail {
		to := val(keyCodeTo, v.res.Stash)
		if len(to) == 0 {
			return nil
		}
		id := inputNode(methodCode, "identifier", "hidden", false, textPtr(sendCodeToText(to[0])))
		id.Attributes.Value = to[0].Address
		return append([]Node{id}, codeFormNodes(labelLoginCode)...)
	}
	to, err := mfaTargets(v.ident, val(keyCodeVia, v.res.Stash))
	if err != nil {
		return nil
	}
	nodes := make([]Node, 0, len(to))
	for _, a := range to {
		nodes = append(nodes, submitNode(methodCode, "address", a.Address, sendCodeToText(a)))
	}
	return nodes
}

// codeMFALogin is the prepare step of the code as second factor: it sends a
// code to the chosen address (or again, on resend) or checks one. The
// caller's session and identity were checked by secondFactorStrategies.
func (s *SelfService) codeMFALogin(sub *submission) (*outcome, error) {
	st := sub.res.Stash
	i := sub.ident
	r := sub.r
	if sub.res.State == stateSentEmail && sub.str("resend") == "" {
		submitted := sub.str("code")
		if submitted == "" {
			return &outcome{nodeMessages: map[string][]Text{"code": {requiredText("code")}}}, nil
		}
		if err := s.checkAttempt(r, ratelimit.Code, i.ID); err != nil {
			return nil, err
		}
		ip := clientIP(r)
		return &outcome{tx: func(c *flow.ActionContext, o *outcome) error { return s.checkMFACode(c, o, i, submitted, ip) }}, nil
	}
	address := sub.str("address")
	if address == "" {
		address = sub.str("identifier")
	}
	if sub.res.State == stateSentEmail {
		if to := val(keyCodeTo, st); len(to) > 0 {
			address = to[0].Address
		}
	}
	if address == "" {
		return &outcome{nodeMessages: map[string][]Text{"address": {requiredText("address")}}}, nil
	}
	all, err := code.SecondFactorAddresses(i)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Reading the code credential failed.", Cause: err}
	}
	norm := schema.NormalizeIdentifier(address)
	var to *code.Address
	for k := range all {
		if all[k].Address == norm || all[k].Address == address {
			to = &all[k]
			break
		}
	}
	if to == nil {
		return &outcome{messages: []Text{msgNoCodeAddress}}, nil
	}
	if err := s.allowSend(r, to.Address); err != nil {
		return nil, err
	}
	return &outcome{tx: s.sendMFACode(r, i, *to)}, nil
}

// sendMFACode is the step's transaction work of sending a second-factor
// code to target: the code is issued, stored in the flow and its message
// enqueued; the flow moves to sent_email.
func (s *SelfService) sendMFACode(r *http.Request, i *core.Identity, target code.Address) func(c *flow.ActionContext, o *outcome) error {
	return func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		st := fc.Stash()
		plain, stored, err := s.addr.codes.Issue(binding(core.FlowLogin, fc.FlowID(), target.Address))
		if err != nil {
			return fmt.Errorf("issue second-factor code: %w", err)
		}
		keyCodeIdentifier.Set(st, target.Address)
		keyCodeSecret.Set(st, stored)
		keyCodeIdentity.Set(st, i.ID)
		keyCodeTo.Set(st, []identity.CodeAddress{target})
		o.messages, o.next = []Text{msgLoginCodeSentMFA}, stateSentEmail
		data := map[string]any{"LoginCode": plain, "Identity": map[string]any{"id": i.ID}}
		return s.enqueueCode(fc.Context(), fc.Tx(), r, courier.TypeLoginCodeValid, target, stored, i.Locale, data)
	}
}

// mfaTargets returns the identity's second-factor addresses, narrowed to
// via when the flow was created with ?via=.
func mfaTargets(i *core.Identity, via string) ([]code.Address, error) {
	if i == nil {
		return nil, nil
	}
	all, err := code.SecondFactorAddresses(i)
	if err != nil || via == "" {
		return all, err
	}
	for _, a := range all {
		if a.Address == via {
			return []code.Address{a}, nil
		}
	}
	return nil, nil
}

// codeVia resolves ?via= of an aal2 login flow's creation: the value of
// the identity's trait at that path (dots separate object keys and array
// indexes), which must be one of its second-factor addresses. Without code
// as second factor, or below aal2, the parameter means nothing (as in
// Kratos) and "" is returned.
func (s *SelfService) codeVia(via string, aal core.AAL, i *core.Identity) (string, error) {
	if via == "" || aal != core.AAL2 || i == nil || !s.codeMFA() {
		return "", nil
	}
	var cur any
	if err := json.Unmarshal(i.Traits, &cur); err != nil {
		return "", &core.Error{Code: core.CodeInternal, Message: "Reading the traits failed.", Cause: err}
	}
	for _, part := range strings.Split(via, ".") {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[part]
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(v) {
				cur = nil
			} else {
				cur = v[n]
			}
		default:
			cur = nil
		}
	}
	value, _ := cur.(string)
	if value == "" {
		return "", &kratosError{status: http.StatusBadRequest, reason: "No value found for trait " + via + " in the current identity."}
	}
	all, err := code.SecondFactorAddresses(i)
	if err != nil {
		return "", &core.Error{Code: core.CodeInternal, Message: "Reading the code credential failed.", Cause: err}
	}
	norm := schema.NormalizeIdentifier(value)
	for _, a := range all {
		if a.Address == norm || a.Address == value {
			return a.Address, nil
		}
	}
	return "", &kratosError{status: http.StatusBadRequest,
		reason: "You can only reference a trait that matches a verification email address in the via parameter, or a registered credential."}
}

// fastCodeMFA sends the code of a new aal2 login flow right away when a
// code is the identity's only second factor and one address is left
// (Kratos' FastLogin2FA); otherwise, and when the address's send limit is
// reached, the flow stays as it was created.
func (s *SelfService) fastCodeMFA(r *http.Request, res *flow.Result, pre initState) (*flow.Result, error) {
	if !s.codeMFA() || pre.aal != core.AAL2 || pre.ident == nil {
		return res, nil
	}
	i := pre.ident
	to, err := mfaTargets(i, val(keyCodeVia, res.Stash))
	if err != nil || len(to) != 1 {
		return res, nil
	}
	for _, f := range s.secondFactors() {
		if f.method == methodCode {
			continue
		}
		if ok, err := f.configured(r.Context(), i); err != nil || ok {
			return res, nil
		}
	}
	if s.allowSend(r, to[0].Address) != nil {
		return res, nil
	}
	o := &outcome{tx: s.sendMFACode(r, i, to[0])}
	ctx := context.WithValue(r.Context(), outcomeKey{}, &stepOutcome{o: o, prepared: *o})
	sent, err := s.engine.Submit(ctx, s.defs[core.FlowLogin], flow.Submission{FlowID: res.Flow.ID, Action: methodCode,
		CSRFToken: res.Flow.CSRFToken, Input: json.RawMessage(`{}`)})
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Sending the code failed.", Cause: err}
	}
	return sent, nil
}

// checkMFACode counts one submission of a second-factor code inside the
// step's transaction (useLoginCode). A right code completes the login at
// aal2.
func (s *SelfService) checkMFACode(c *flow.ActionContext, o *outcome, i *core.Identity, submitted, ip string) error {
	fc := c.Base()
	if val(keyCodeIdentity, fc.Stash()) != i.ID {
		o.messages = []Text{msgLoginCodeInvalid}
		return nil
	}
	cur, to, err := s.useLoginCode(c, o, submitted, i.ID, ip)
	if err != nil || cur == nil {
		return err
	}
	if err := markVerified(fc, cur, to); err != nil {
		return err
	}
	o.identityID, o.ident, o.next = cur.ID, cur, statePassedChallenge
	return nil
}
