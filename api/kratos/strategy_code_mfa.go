package kratos

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
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

// Kratos' message ids of the code method as a second factor.
const (
	MsgLoginAAL2CodeAddress         = 1010023
	MsgLoginCodeSentToAuthenticated = 1010025
)

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
	to, err := code.SecondFactorAddresses(v.ident)
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
	target := *to
	return &outcome{tx: func(c *flow.ActionContext, o *outcome) error {
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
	}}, nil
}

// checkMFACode counts one submission of a second-factor code inside the
// step's transaction; the stored code (with its attempt count) is written
// back whatever the outcome. A right code completes the login at aal2.
func (s *SelfService) checkMFACode(c *flow.ActionContext, o *outcome, i *core.Identity, submitted, ip string) error {
	fc := c.Base()
	st := fc.Stash()
	stored, ok := keyCodeSecret.Get(st)
	to := val(keyCodeTo, st)
	if !ok || len(to) == 0 || val(keyCodeIdentity, st) != i.ID {
		o.messages = []Text{msgLoginCodeInvalid}
		return nil
	}
	err := s.addr.codes.Check(&stored, binding(core.FlowLogin, fc.FlowID(), to[0].Address), submitted)
	keyCodeSecret.Set(st, stored)
	if err != nil {
		if core.ErrorCode(err) == core.CodeInternal {
			return fmt.Errorf("check second-factor code: %w", err)
		}
		o.messages = []Text{msgLoginCodeInvalid}
		return nil
	}
	if err := s.attempts.In(fc.Tx()).Succeed(fc.Context(), ratelimit.Code, i.ID, ip); err != nil {
		return fmt.Errorf("record a right second-factor code: %w", err)
	}
	cur, err := fc.Tx().GetIdentity(fc.Context(), i.ID)
	if errors.Is(err, store.ErrNotFound) {
		o.messages = []Text{msgLoginCodeInvalid}
		return nil
	}
	if err != nil {
		return fmt.Errorf("load identity: %w", err)
	}
	if err := markVerified(fc, cur, to); err != nil {
		return err
	}
	o.identityID, o.ident, o.next = cur.ID, cur, statePassedChallenge
	return nil
}
