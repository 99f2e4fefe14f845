package kratos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// Passwordless login and registration with a one-time code (Kratos'
// selfservice/strategy/code, login and registration parts; notes §3.1,
// §3.2), switched on by selfservice.methods.code.passwordless_enabled.
//
// Login: the user names an identifier (choose_method); a code goes to the
// identity's code address (sent_email), and the code logs in (amr code,
// aal1). Registration: the user submits traits; a code goes to the traits'
// code addresses (sent_email), and the code creates the identity, with
// those addresses verified. Both steps run through the face's plumbing
// (outcome.tx): the code is issued, or checked, and the message enqueued
// inside the step's transaction, so the stored code and its attempt count
// commit with the step and every replica sees them. The send is
// enumeration safe: an identifier no account has gets the same answer and
// nothing is sent. Each code accepts code.config.max_submissions tries
// (default 5) and then dies; sends count against the address's send limit
// (ratelimit.send).

// Kratos' message ids of the code method in login and registration.
const (
	MsgLoginCodeSent           = 1010014
	MsgLoginCode               = 1010015
	MsgRegistrationCodeSent    = 1040005
	MsgRegistrationCode        = 1040006
	MsgLabelRegistrationCode   = 1070012
	MsgLabelLoginCode          = 1070013
	MsgNoCodeUser              = 4000035
	MsgTraitsMismatch          = 4000036
	MsgLoginCodeInvalid        = 4010008
	MsgRegistrationCodeInvalid = 4040003
)

var (
	labelSendLoginCode    = infoText(MsgLoginCode, "Send sign in code")
	labelSendSignUpCode   = infoText(MsgRegistrationCode, "Send sign up code")
	labelLoginCode        = infoText(MsgLabelLoginCode, "Login code")
	labelRegistrationCode = infoText(MsgLabelRegistrationCode, "Registration code")

	msgLoginCodeSent        = infoText(MsgLoginCodeSent, "A code was sent to the address you provided. If you didn't receive it, please check the spelling of the address and try again.")
	msgRegistrationCodeSent = infoText(MsgRegistrationCodeSent, "A code has been sent to the address(es) you provided. If you have not received a message, check the spelling of the address and retry the registration.")
	msgLoginCodeInvalid     = Text{ID: MsgLoginCodeInvalid, Type: textError, Text: "The login code is invalid or has already been used. Please try again."}
	msgRegCodeInvalid       = Text{ID: MsgRegistrationCodeInvalid, Type: textError, Text: "The registration code is invalid or has already been used. Please try again."}
	msgTraitsMismatch       = Text{ID: MsgTraitsMismatch, Type: textError, Text: "The provided traits do not match the traits previously associated with this flow."}
	msgNoCodeAddress        = Text{ID: MsgNoCodeUser, Type: textError, Text: "This account does not exist or has not setup sign in with code."}
)

// Stash keys of the code method in login and registration. They are sticky
// so that a step back does not revive a dead code.
var (
	keyCodeIdentifier = flow.NewStickyKey[string]("kratos.code.identifier")         // login: as typed
	keyCodeIdentity   = flow.NewStickyKey[string]("kratos.code.identity")           // login: "" when unknown
	keyCodeTo         = flow.NewStickyKey[[]identity.CodeAddress]("kratos.code.to") // where the code went
	keyCodeSecret     = flow.NewStickyKey[code.Code]("kratos.code.secret")          // the stored code
	keyCodeTraits     = flow.NewStickyKey[json.RawMessage]("kratos.code.traits")    // registration: the traits
)

// passwordlessCode reports whether login and registration offer the code
// method: code and code.passwordless_enabled are on and the courier is
// wired (SelfServiceOptions.AddressFlows).
func (s *SelfService) passwordlessCode() bool {
	c := s.cfg.Methods.Code
	return s.addr != nil && c.Enabled && c.PasswordlessEnabled
}

// registrationTwoStep reports whether registration uses profile_first's two
// screens.
func (s *SelfService) registrationTwoStep() bool {
	return s.style == config.RegistrationProfileFirst && s.cfg.Methods.Profile.Enabled
}

// onlyCodeNodes reports whether a flow in state shows the code form alone
// (a login or registration code was sent; other methods step aside, as in
// Kratos' populateEmailSentFlow).
func onlyCodeNodes(kind core.FlowKind, state string) bool {
	return state == stateSentEmail && (kind == core.FlowLogin || kind == core.FlowRegistration)
}

// keptBesideMFACode reports whether a method's nodes stay on an aal2 login
// after a code was sent: Kratos' sent_email screen drops the other groups
// but totp and lookup_secret.
func keptBesideMFACode(st *flow.Stash, method string) bool {
	return val(keyAAL, st) == string(core.AAL2) && (method == methodTOTP || method == methodLookup)
}

// codeStrategies returns the code strategy of login or registration when
// passwordless codes are enabled.
func (s *SelfService) codeStrategies(kind core.FlowKind) []strategy {
	if !s.passwordlessCode() {
		return nil
	}
	codeIn := flow.Input{Name: "code", Type: flow.TypeString, TrimSpace: true, MaxLength: 64}
	resend := flow.Input{Name: "resend", Type: flow.TypeString, MaxLength: 32}
	switch kind {
	case core.FlowLogin:
		return []strategy{{method: methodCode,
			inputs:  []flow.Input{{Name: "identifier", Type: flow.TypeString, TrimSpace: true, MaxLength: 320}, codeIn, resend},
			nodes:   s.codeLoginNodes,
			prepare: s.codeLogin}}
	case core.FlowRegistration:
		return []strategy{{method: methodCode,
			inputs:  []flow.Input{{Name: "traits", Type: flow.TypeJSON}, codeIn, resend, {Name: "screen", Type: flow.TypeString, MaxLength: 32}},
			nodes:   s.codeRegistrationNodes,
			prepare: s.codeRegistration}}
	}
	return nil
}

// codeFormNodes are the nodes of the sent_email screen: the hidden method,
// the code, Continue and Resend (notes §3.1, §3.2).
func codeFormNodes(label Text) []Node {
	hidden := inputNode(methodCode, "method", "hidden", false, nil)
	hidden.Attributes.Value = methodCode
	c := inputNode(methodCode, "code", "text", true, &label)
	c.Attributes.Autocomplete = "one-time-code"
	return []Node{hidden, c, submitNode(methodCode, "method", methodCode, labelContinue),
		submitNode(methodCode, "resend", methodCode, labelResend)}
}

// codeLoginOffered reports whether a login flow offers the code method:
// not for a second factor and not for a refresh (the code would have to go
// to the session's identity; Kratos needs a feature flag for that).
func codeLoginOffered(st *flow.Stash, flowIdentity string) bool {
	return val(keyAAL, st) != string(core.AAL2) && !(val(keyRefresh, st) && flowIdentity != "")
}

// codeLoginNodes renders the code method's login nodes.
func (s *SelfService) codeLoginNodes(v *view) []Node {
	st := v.res.Stash
	if !codeLoginOffered(st, v.res.Flow.IdentityID) {
		return nil
	}
	if v.res.State != stateSentEmail {
		n := inputNode(groupDefault, "identifier", "text", true, s.identifierLabel(nil))
		var kept string
		if raw := v.value("identifier"); raw != nil {
			_ = jsonUnmarshal(raw, &kept)
		}
		n.Attributes.Value = kept
		return []Node{n, submitNode(methodCode, "method", methodCode, labelSendLoginCode)}
	}
	id := inputNode(groupDefault, "identifier", "hidden", true, s.identifierLabel(nil))
	id.Attributes.Value = val(keyCodeIdentifier, st)
	return append([]Node{id}, codeFormNodes(labelLoginCode)...)
}

// codeLogin is the prepare step of the code method in login: it decides
// between sending a code (choose_method, a resend, or another identifier)
// and checking one; the work itself runs in the step's transaction.
func (s *SelfService) codeLogin(sub *submission) (*outcome, error) {
	st := sub.res.Stash
	if !codeLoginOffered(st, sub.res.Flow.IdentityID) {
		return &outcome{messages: []Text{noStrategyText("login")}}, nil
	}
	r := sub.r
	identifier := sub.str("identifier")
	if sub.res.State == stateSentEmail {
		stored := val(keyCodeIdentifier, st)
		switch {
		case sub.str("resend") != "":
			identifier = stored
		case identifier != "" && schema.NormalizeIdentifier(identifier) != schema.NormalizeIdentifier(stored) && sub.str("code") == "":
			// Another identifier: send to it instead.
		default:
			submitted := sub.str("code")
			if submitted == "" {
				return &outcome{nodeMessages: map[string][]Text{"code": {requiredText("code")}}}, nil
			}
			key := val(keyCodeIdentity, st)
			if key == "" {
				key = "address:" + schema.NormalizeIdentifier(stored)
			}
			if err := s.checkAttempt(r, ratelimit.Code, key); err != nil {
				return nil, err
			}
			ip := clientIP(r)
			return &outcome{tx: func(c *flow.ActionContext, o *outcome) error { return s.checkLoginCode(c, o, submitted, key, ip) }}, nil
		}
	}
	if identifier == "" {
		return &outcome{values: keep("identifier", ""), nodeMessages: map[string][]Text{"identifier": {requiredText("identifier")}}}, nil
	}
	if err := s.allowSend(r, identifier); err != nil {
		return nil, err
	}
	return &outcome{values: keep("identifier", identifier), tx: func(c *flow.ActionContext, o *outcome) error {
		return s.sendLoginCode(c, o, r, identifier)
	}}, nil
}

// sendLoginCode sends a login code for identifier, inside the step's
// transaction. An identifier without a code credential gets the same answer
// ("sent") and nothing is sent.
func (s *SelfService) sendLoginCode(c *flow.ActionContext, o *outcome, r *http.Request, identifier string) error {
	fc := c.Base()
	st := fc.Stash()
	ctx, tx := fc.Context(), fc.Tx()
	keyCodeIdentifier.Set(st, identifier)
	keyCodeSecret.Delete(st)
	keyCodeIdentity.Delete(st)
	keyCodeTo.Delete(st)
	o.messages, o.next = []Text{msgLoginCodeSent}, stateSentEmail
	norm := schema.NormalizeIdentifier(identifier)
	i, err := tx.FindIdentityByIdentifier(ctx, core.CredentialCode, norm)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find code identifier: %w", err)
	}
	to, ok := codeAddressOf(i, norm)
	if !ok {
		return nil
	}
	plain, stored, err := s.addr.codes.Issue(binding(core.FlowLogin, fc.FlowID(), to.Address))
	if err != nil {
		return fmt.Errorf("issue login code: %w", err)
	}
	keyCodeSecret.Set(st, stored)
	keyCodeIdentity.Set(st, i.ID)
	keyCodeTo.Set(st, []identity.CodeAddress{to})
	data := map[string]any{"LoginCode": plain, "Identity": map[string]any{"id": i.ID}}
	return s.enqueueCode(ctx, tx, r, courier.TypeLoginCodeValid, to, stored, i.Locale, data)
}

// codeAddressOf returns the code address of the identity that norm names
// (the code credential's config lists each address with its channel).
func codeAddressOf(i *core.Identity, norm string) (identity.CodeAddress, bool) {
	c, ok := i.Credential(core.CredentialCode)
	if !ok {
		return identity.CodeAddress{}, false
	}
	var cfg identity.CodeConfig
	_ = json.Unmarshal(c.Config, &cfg)
	for _, a := range cfg.Addresses {
		if a.Address == norm {
			return a, true
		}
	}
	for _, id := range c.Identifiers {
		if id == norm && schema.ValidAddress(core.ViaEmail, norm) {
			return identity.CodeAddress{Channel: string(core.ChannelEmail), Address: norm}, true
		}
	}
	return identity.CodeAddress{}, false
}

// enqueueCode queues one code message in the step's transaction.
func (s *SelfService) enqueueCode(ctx context.Context, tx store.Tx, r *http.Request, tmpl string, to identity.CodeAddress, stored code.Code, locale string, data map[string]any) error {
	var hdrLang, accept string
	if r != nil {
		hdrLang, accept = r.Header.Get("X-Language"), r.Header.Get("Accept-Language")
	}
	data["To"] = to.Address
	data["ExpiresInMinutes"] = int(math.Ceil(stored.ExpiresAt.Sub(stored.IssuedAt).Minutes()))
	channel := core.MessageChannel(to.Channel)
	if channel == "" {
		channel = core.ChannelEmail
	}
	if _, err := s.addr.courier.Enqueue(ctx, tx, courier.Request{TemplateType: tmpl, Channel: channel, Recipient: to.Address,
		Language: courier.Language(hdrLang, accept, locale), Data: data}); err != nil {
		return fmt.Errorf("enqueue %s: %w", tmpl, err)
	}
	return nil
}

// checkLoginCode counts one submission of a login code, inside the step's
// transaction (useLoginCode). A right code logs the identity in and
// verifies the address the code went to.
func (s *SelfService) checkLoginCode(c *flow.ActionContext, o *outcome, submitted, attemptKey, ip string) error {
	fc := c.Base()
	i, to, err := s.useLoginCode(c, o, submitted, attemptKey, ip)
	if err != nil || i == nil {
		return err
	}
	if i.State != core.IdentityActive {
		o.messages = []Text{msgDisabled}
		return nil
	}
	if err := markVerified(fc, i, to); err != nil {
		return err
	}
	if s.hasHook(s.loginHooks(methodCode), "require_verified_address") && !hasVerifiedAddress(i) {
		o.messages = []Text{msgNotVerified}
		return nil
	}
	o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
	return nil
}

// useLoginCode counts one submission of the flow's login code (passwordless
// or second factor) inside the step's transaction; the stored code, with
// its attempt count, is written back whatever the outcome. It returns the
// identity the code was sent for and where it went; nil, with the invalid
// code message in o, when the code is not right.
func (s *SelfService) useLoginCode(c *flow.ActionContext, o *outcome, submitted, attemptKey, ip string) (*core.Identity, []identity.CodeAddress, error) {
	fc := c.Base()
	st := fc.Stash()
	stored, ok := keyCodeSecret.Get(st)
	id, to := val(keyCodeIdentity, st), val(keyCodeTo, st)
	if !ok || id == "" || len(to) == 0 {
		o.messages = []Text{msgLoginCodeInvalid}
		return nil, nil, nil
	}
	err := s.addr.codes.Check(&stored, binding(core.FlowLogin, fc.FlowID(), to[0].Address), submitted)
	keyCodeSecret.Set(st, stored)
	if err != nil {
		if core.ErrorCode(err) == core.CodeInternal {
			return nil, nil, fmt.Errorf("check login code: %w", err)
		}
		o.messages = []Text{msgLoginCodeInvalid}
		return nil, nil, nil
	}
	if err := s.attempts.In(fc.Tx()).Succeed(fc.Context(), ratelimit.Code, attemptKey, ip); err != nil {
		return nil, nil, fmt.Errorf("record a right login code: %w", err)
	}
	i, err := fc.Tx().GetIdentity(fc.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		o.messages = []Text{msgLoginCodeInvalid}
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load identity: %w", err)
	}
	return i, to, nil
}

// markVerified marks the identity's verifiable addresses among to as
// verified (a right code proves them), in the step's transaction.
func markVerified(fc *flow.Context, i *core.Identity, to []identity.CodeAddress) error {
	now := fc.Now().UTC()
	changed := false
	for j := range i.Addresses {
		a := &i.Addresses[j]
		if !a.Verifiable || a.Verified {
			continue
		}
		for _, t := range to {
			if string(a.Via) == t.Channel && a.Value == t.Address {
				a.Verified, a.VerifiedAt, a.Status, a.UpdatedAt = true, &now, core.AddressCompleted, now
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	if err := fc.Tx().UpdateIdentity(fc.Context(), i); err != nil {
		return fmt.Errorf("mark address verified: %w", err)
	}
	return nil
}

// codeRegistrationNodes renders the code method's registration nodes: the
// "Send sign up code" button (with the traits in the unified style, on the
// credentials screen in profile_first), then the code form with the traits
// hidden.
func (s *SelfService) codeRegistrationNodes(v *view) []Node {
	st := v.res.Stash
	if v.res.State == stateSentEmail {
		nm, _ := keyNodeMessages.Get(st)
		nodes := hiddenTraitNodes(s.schemaTraits(), groupDefault, val(keyCodeTraits, st), nm)
		nodes = append(nodes, codeFormNodes(labelRegistrationCode)...)
		if s.registrationTwoStep() {
			nodes = append(nodes, submitNode(groupProfile, "screen", screenCredentials, labelBack))
		}
		return nodes
	}
	if s.registrationTwoStep() {
		if val(keyScreen, st) != screenCredentials {
			return nil
		}
		return []Node{submitNode(methodCode, "method", methodCode, labelSendSignUpCode)}
	}
	nodes := traitNodes(s.schemaTraits(), groupDefault, v.value("traits"), false)
	return append(nodes, submitNode(methodCode, "method", methodCode, labelSendSignUpCode))
}

// codeRegistration is the prepare step of the code method in registration:
// traits first (validated, then a code is sent to their code addresses),
// then the code, which creates the identity in the step's transaction.
func (s *SelfService) codeRegistration(sub *submission) (*outcome, error) {
	st := sub.res.Stash
	r := sub.r
	traits := traitsOf(sub)
	if sub.res.State == stateSentEmail {
		stored := val(keyCodeTraits, st)
		if screen := sub.str("screen"); screen == screenCredentials || screen == "previous" {
			return &outcome{next: stateChooseMethod, clearActive: true, messages: []Text{msgChooseCred}, values: keep("traits", stored), stash: func(st *flow.Stash) {
				if s.registrationTwoStep() {
					keyScreen.Set(st, screenCredentials)
				}
			}}, nil
		}
		if _, sent := sub.body["traits"].(map[string]any); sent && !sameJSON(traits, stored) {
			return &outcome{messages: []Text{msgTraitsMismatch}}, nil
		}
		ex, msgs, err := s.checkTraits(stored)
		if err != nil {
			return nil, err
		}
		if msgs != nil {
			return &outcome{nodeMessages: msgs}, nil
		}
		if sub.str("resend") != "" {
			return s.prepareRegistrationSend(r, stored, ex)
		}
		submitted := sub.str("code")
		if submitted == "" {
			return &outcome{nodeMessages: map[string][]Text{"code": {requiredText("code")}}}, nil
		}
		key := "address:" + joinAddresses(val(keyCodeTo, st))
		if err := s.checkAttempt(r, ratelimit.Code, key); err != nil {
			return nil, err
		}
		ip := clientIP(r)
		d := identity.Draft{Traits: stored}
		interrupt, err := s.preCodeRegistration(sub, submitted, &d)
		if err != nil {
			return nil, err
		}
		var values map[string]json.RawMessage
		if !bytes.Equal(d.Traits, stored) {
			// A web hook's answer changed the traits: the identity gets
			// the addresses of the traits it is stored with.
			values = keep("traits", d.Traits)
			if ex, msgs, err = s.checkTraits(d.Traits); err != nil || msgs != nil {
				return &outcome{values: values, nodeMessages: msgs}, err
			}
		}
		return &outcome{values: values, tx: func(c *flow.ActionContext, o *outcome) error {
			return s.checkRegistrationCode(c, o, submitted, d, ex, key, ip, interrupt)
		}}, nil
	}
	ex, msgs, err := s.checkTraits(traits)
	if err != nil {
		return nil, err
	}
	if msgs != nil {
		return &outcome{values: keep("traits", traits), nodeMessages: msgs}, nil
	}
	return s.prepareRegistrationSend(r, traits, ex)
}

// prepareRegistrationSend checks the send limit of every code address of
// the traits and returns the outcome that sends the code.
func (s *SelfService) prepareRegistrationSend(r *http.Request, traits json.RawMessage, ex *schema.Extracted) (*outcome, error) {
	o := &outcome{values: keep("traits", traits)}
	if len(ex.CodeIdentifiers) == 0 {
		o.messages = []Text{msgNoCodeAddress}
		return o, nil
	}
	for _, a := range ex.CodeIdentifiers {
		if err := s.allowSend(r, a.Value); err != nil {
			return nil, err
		}
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error { return s.sendRegistrationCode(c, o, r, traits, ex) }
	return o, nil
}

// joinAddresses is the binding part naming every address a code went to.
func joinAddresses(to []identity.CodeAddress) string {
	parts := make([]string, len(to))
	for i, a := range to {
		parts[i] = a.Channel + ":" + a.Address
	}
	return strings.Join(parts, ",")
}

// sendRegistrationCode sends one registration code to every code address
// of the traits, inside the step's transaction.
func (s *SelfService) sendRegistrationCode(c *flow.ActionContext, o *outcome, r *http.Request, traits json.RawMessage, ex *schema.Extracted) error {
	fc := c.Base()
	st := fc.Stash()
	to := make([]identity.CodeAddress, 0, len(ex.CodeIdentifiers))
	for _, a := range ex.CodeIdentifiers {
		to = append(to, identity.CodeAddress{Channel: string(a.Via), Address: a.Value})
	}
	plain, stored, err := s.addr.codes.Issue(binding(core.FlowRegistration, fc.FlowID(), joinAddresses(to)))
	if err != nil {
		return fmt.Errorf("issue registration code: %w", err)
	}
	var traitMap map[string]any
	_ = json.Unmarshal(traits, &traitMap)
	for _, a := range to {
		data := map[string]any{"RegistrationCode": plain, "Traits": traitMap}
		if err := s.enqueueCode(fc.Context(), fc.Tx(), r, courier.TypeRegistrationCodeValid, a, stored, "", data); err != nil {
			return err
		}
	}
	keyCodeTraits.Set(st, traits)
	keyCodeSecret.Set(st, stored)
	keyCodeTo.Set(st, to)
	keyScreen.Delete(st)
	o.messages, o.next = []Text{msgRegistrationCodeSent}, stateSentEmail
	return nil
}

// checkRegistrationCode counts one submission of a registration code,
// inside the step's transaction. A right code for traits whose identifiers
// are still free creates the identity in the same transaction, with the
// addresses the code went to verified, and ends the flow. Taken identifiers
// are reported only after the code was proven, so the form tells nobody
// else that an account exists.
//
// d is the identity to create (the traits and metadata a web hook's answer
// may have changed); interrupt, when set, holds the messages of a web hook
// that stopped the registration: a right code is then used up as Kratos
// does, but no identity is created and the step fails with them.
func (s *SelfService) checkRegistrationCode(c *flow.ActionContext, o *outcome, submitted string, d identity.Draft, ex *schema.Extracted, attemptKey, ip string, interrupt *outcome) error {
	fc := c.Base()
	st := fc.Stash()
	ctx, tx := fc.Context(), fc.Tx()
	stored, ok := keyCodeSecret.Get(st)
	to := val(keyCodeTo, st)
	if !ok || len(to) == 0 {
		o.messages = []Text{msgRegCodeInvalid}
		return nil
	}
	err := s.addr.codes.Check(&stored, binding(core.FlowRegistration, fc.FlowID(), joinAddresses(to)), submitted)
	keyCodeSecret.Set(st, stored)
	if err != nil {
		if core.ErrorCode(err) == core.CodeInternal {
			return fmt.Errorf("check registration code: %w", err)
		}
		o.messages = []Text{msgRegCodeInvalid}
		return nil
	}
	if err := s.attempts.In(tx).Succeed(ctx, ratelimit.Code, attemptKey, ip); err != nil {
		return fmt.Errorf("record a right registration code: %w", err)
	}
	if interrupt != nil {
		o.messages, o.nodeMessages = interrupt.messages, interrupt.nodeMessages
		return nil
	}
	now := s.now().UTC()
	var verified []identity.AddressDraft
	for _, a := range ex.VerifiableAddresses {
		for _, t := range to {
			if string(a.Via) == t.Channel && a.Value == t.Address {
				verified = append(verified, identity.AddressDraft{Via: a.Via, Value: a.Value, Verified: true,
					VerifiedAt: &now, Status: core.AddressCompleted})
			}
		}
	}
	d.VerifiableAddresses = verified
	i, err := s.ids.WithTx(tx).Create(ctx, d)
	if takenInTx(err) {
		o.messages = []Text{msgDuplicateCreds}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create registered identity: %w", err)
	}
	o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
	return nil
}

// preCodeRegistration runs the interrupting after-registration web hooks
// of the code method (Kratos' pre-persist hooks) when submitted is the
// right code: they run before the transaction, on a copy of the stored code
// (the transaction checks it again and counts the attempt), so a wrong
// code calls no hook and a slow hook holds no transaction. A parsed answer
// changes d; an interrupt is returned for the transaction to show once it
// used the code up.
func (s *SelfService) preCodeRegistration(sub *submission, submitted string, d *identity.Draft) (*outcome, error) {
	if s.webhooks == nil || !webhook.Has(s.registrationHooks(methodCode), webhook.SelectInterrupting) {
		return nil, nil
	}
	st := sub.res.Stash
	probe, ok := keyCodeSecret.Get(st)
	to := val(keyCodeTo, st)
	if !ok || len(to) == 0 || s.addr.codes.Check(&probe, binding(core.FlowRegistration, sub.res.Flow.ID, joinAddresses(to)), submitted) != nil {
		return nil, nil
	}
	o := &outcome{}
	stop, err := s.preRegistration(sub, methodCode, d, o)
	if err != nil || !stop {
		return nil, err
	}
	return o, nil
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
