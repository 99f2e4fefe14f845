package kratos

import (
	"errors"
	"fmt"
	"math"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// The code and link methods of recovery and verification (Kratos'
// selfservice/strategy/code and selfservice/strategy/link). Both send a
// secret to an address and accept it back; method/code issues and checks
// the secret (keyed hash, purpose binding, expiry, at most
// code.config.max_submissions tries) and the flow's stash keeps its stored
// form, so every replica sees the same attempt count.

// The method names (the body's "method" and the node groups).
const (
	methodCode = "code"
	methodLink = "link"
)

// Stash keys of the recovery and verification flows. They are sticky: a
// step back must not revive a dead code or forget where it went.
var (
	keyAddress    = flow.NewStickyKey[string]("kratos.address.value")
	keyAddrCode   = flow.NewStickyKey[code.Code]("kratos.address.code")
	keyAddrMethod = flow.NewStickyKey[string]("kratos.address.method")
)

// Kratos' message ids of recovery and verification (text/id.go).
const (
	MsgRecoverySuccessful            = 1060001
	MsgRecoveryEmailSent             = 1060002
	MsgRecoveryEmailWithCodeSent     = 1060003
	MsgLabelEmail                    = 1070007
	MsgLabelResendOTP                = 1070008
	MsgLabelRecoveryCode             = 1070010
	MsgLabelVerificationCode         = 1070011
	MsgVerificationEmailSent         = 1080001
	MsgVerificationSuccessful        = 1080002
	MsgVerificationEmailWithCodeSent = 1080003
	MsgRecoveryRetrySuccess          = 4060001
	MsgRecoveryTokenInvalid          = 4060004
	MsgRecoveryCodeInvalid           = 4060006
	MsgVerificationTokenInvalid      = 4070001
	MsgVerificationRetrySuccess      = 4070002
	MsgVerificationCodeInvalid       = 4070006
)

var (
	labelEmail     = infoText(MsgLabelEmail, "Email")
	labelResend    = infoText(MsgLabelResendOTP, "Resend code")
	labelRecCode   = infoText(MsgLabelRecoveryCode, "Recovery code")
	labelVerifCode = infoText(MsgLabelVerificationCode, "Verification code")

	msgRecoveryCodeSent = infoText(MsgRecoveryEmailWithCodeSent, "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.")
	msgRecoveryLinkSent = infoText(MsgRecoveryEmailSent, "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.")
	msgVerifCodeSent    = infoText(MsgVerificationEmailWithCodeSent, "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.")
	msgVerifLinkSent    = infoText(MsgVerificationEmailSent, "An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.")
	msgVerified         = Text{ID: MsgVerificationSuccessful, Type: textSuccess, Text: "You successfully verified your email address."}
)

// sentText is the message shown once a code or link went out.
func sentText(kind core.FlowKind, method string) Text {
	switch {
	case kind == core.FlowRecovery && method == methodLink:
		return msgRecoveryLinkSent
	case kind == core.FlowRecovery:
		return msgRecoveryCodeSent
	case method == methodLink:
		return msgVerifLinkSent
	}
	return msgVerifCodeSent
}

// invalidSecretText is the message for a wrong, expired, used or dead code
// (method code) or link token (method link).
func invalidSecretText(kind core.FlowKind, method string) Text {
	switch {
	case kind == core.FlowRecovery && method == methodLink:
		return Text{ID: MsgRecoveryTokenInvalid, Type: textError, Text: "The recovery token is invalid or has already been used. Please retry the flow."}
	case kind == core.FlowRecovery:
		return Text{ID: MsgRecoveryCodeInvalid, Type: textError, Text: "The recovery code is invalid or has already been used. Please try again."}
	case method == methodLink:
		return Text{ID: MsgVerificationTokenInvalid, Type: textError, Text: "The verification token is invalid or has already been used. Please retry the flow."}
	}
	return Text{ID: MsgVerificationCodeInvalid, Type: textError, Text: "The verification code is invalid or has already been used. Please try again."}
}

// addressRetryText is the message for a submission of a finished flow.
func addressRetryText(kind core.FlowKind) Text {
	id := MsgVerificationRetrySuccess
	if kind == core.FlowRecovery {
		id = MsgRecoveryRetrySuccess
	}
	return Text{ID: id, Type: textError, Text: "The request was already completed successfully and can not be retried."}
}

// invalidEmailText is the schema message for a malformed address.
func invalidEmailText(raw string) Text {
	return genericText(fmt.Sprintf("%q is not valid \"email\"", raw))
}

// addressUse returns the method a flow of kind sends with (its "use").
func (s *SelfService) addressUse(kind core.FlowKind) string {
	use := s.cfg.Flows.Verification.Use
	if kind == core.FlowRecovery {
		use = s.cfg.Flows.Recovery.Use
	}
	if use == "" {
		use = methodCode
	}
	return use
}

// addressStrategies returns the strategy recovery or verification runs
// with: the configured "use" method, when that method is enabled.
func (s *SelfService) addressStrategies(kind core.FlowKind) []strategy {
	use := s.addressUse(kind)
	email := flow.Input{Name: "email", Type: flow.TypeString, TrimSpace: true, MaxLength: 320}
	switch {
	case use == methodCode && s.cfg.Methods.Code.Enabled:
		return []strategy{{method: methodCode,
			inputs: []flow.Input{email, {Name: "code", Type: flow.TypeString, TrimSpace: true, MaxLength: 64}},
			nodes:  func(v *view) []Node { return codeAddressNodes(kind, v) }}}
	case use == methodLink && s.cfg.Methods.Link.Enabled:
		return []strategy{{method: methodLink, inputs: []flow.Input{email},
			nodes: func(v *view) []Node { return linkAddressNodes(v) }}}
	}
	return nil
}

// codeAddressNodes renders the code method's recovery and verification
// nodes (notes §3.4, §3.5).
func codeAddressNodes(kind core.FlowKind, v *view) []Node {
	if v.res.State != stateSentEmail {
		email := inputNode(methodCode, "email", "email", true, textPtr(labelEmail))
		return []Node{email, submitNode(methodCode, "method", methodCode, labelContinue)}
	}
	hidden := inputNode(methodCode, "method", "hidden", false, nil)
	hidden.Attributes.Value = methodCode
	label := labelRecCode
	if kind == core.FlowVerification {
		label = labelVerifCode
	}
	c := inputNode(methodCode, "code", "text", true, &label)
	c.Attributes.Autocomplete = "one-time-code"
	if kind == core.FlowRecovery {
		c.Attributes.Pattern, c.Attributes.MaxLength = "[0-9]+", 6
	}
	if val(keyAddress, v.res.Stash) == "" {
		// An admin-created flow (recovery_admin.go): no address to resend to.
		return []Node{c, submitNode(methodCode, "method", methodCode, labelContinue)}
	}
	resend := submitNode(methodCode, "email", val(keyAddress, v.res.Stash), labelResend)
	if kind == core.FlowVerification {
		return []Node{hidden, c, submitNode(methodCode, "method", methodCode, labelContinue), resend}
	}
	return []Node{c, hidden, submitNode(methodCode, "method", methodCode, labelContinue), resend}
}

// errFormInvalid signals that the step showed the form again with messages.
var errFormInvalid = &core.Error{Code: core.CodeInvalid, Message: "The form has errors."}

// addressStep is the action of the code or link method in recovery and
// verification: with a code it checks the code; with an address it sends a
// new code or link there (also the "resend" button).
func (s *SelfService) addressStep(kind core.FlowKind, method string) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		fc := c.Base()
		st := fc.Stash()
		keyMessages.Delete(st)
		keyNodeMessages.Delete(st)
		keyActive.Set(st, method)
		if method == methodCode && c.String("code") != "" {
			return s.checkSecret(c, kind, methodCode, c.String("code"))
		}
		if c.String("email") == "" {
			keyNodeMessages.Set(st, map[string][]Text{"email": {requiredText("email")}})
			return c.Error(errFormInvalid)
		}
		err := s.sendToAddress(fc, kind, method, c.String("email"))
		if errors.Is(err, errFormInvalid) {
			return c.Error(errFormInvalid)
		}
		if err != nil {
			return err
		}
		return c.Continue(stateSentEmail)
	}
}

// linkStep is the action of an opened link: it checks the token.
func (s *SelfService) linkStep(kind core.FlowKind) func(c *flow.ActionContext) error {
	return func(c *flow.ActionContext) error {
		st := c.Base().Stash()
		keyMessages.Delete(st)
		keyNodeMessages.Delete(st)
		keyActive.Set(st, methodLink)
		return s.checkSecret(c, kind, methodLink, c.String("token"))
	}
}

// binding ties a code or token to its purpose, flow and address, so it is
// useless anywhere else.
func binding(kind core.FlowKind, flowID, addr string) string {
	return string(kind) + ":" + flowID + ":" + addr
}

// checkSecret counts one submission of a code or link token. The stored
// code (with its attempt count) is written back whatever the outcome, and
// the step commits either way, so the limit holds.
func (s *SelfService) checkSecret(c *flow.ActionContext, kind core.FlowKind, method, submitted string) error {
	fc := c.Base()
	st := fc.Stash()
	addr := val(keyAddress, st)
	stored, ok := keyAddrCode.Get(st)
	issuer := s.addr.codes
	if method == methodLink {
		issuer = s.addr.links
	}
	// An admin-issued secret is bound to no address (recovery_admin.go).
	if !ok || (addr == "" && !val(keyAdminIssued, st)) || fc.IdentityID() == "" || val(keyAddrMethod, st) != method || submitted == "" {
		keyMessages.Set(st, []Text{invalidSecretText(kind, method)})
		return c.Error(errFormInvalid)
	}
	err := issuer.Check(&stored, binding(kind, fc.FlowID(), addr), submitted)
	keyAddrCode.Set(st, stored)
	if err != nil {
		if core.ErrorCode(err) == core.CodeInternal {
			return fmt.Errorf("check %s %s: %w", kind, method, err)
		}
		keyMessages.Set(st, []Text{invalidSecretText(kind, method)})
		return c.Error(errFormInvalid)
	}
	return s.proveAddress(c, kind, addr)
}

// proveAddress finishes a step whose code or link was right: the address is
// verified (a recovery proves it as well) and the flow passes.
func (s *SelfService) proveAddress(c *flow.ActionContext, kind core.FlowKind, addr string) error {
	fc := c.Base()
	st := fc.Stash()
	i, err := fc.Tx().GetIdentity(fc.Context(), fc.IdentityID())
	if errors.Is(err, store.ErrNotFound) {
		keyMessages.Set(st, []Text{invalidSecretText(kind, val(keyAddrMethod, st))})
		return c.Error(errFormInvalid)
	}
	if err != nil {
		return fmt.Errorf("load identity: %w", err)
	}
	if kind == core.FlowRecovery && i.State != core.IdentityActive {
		keyMessages.Set(st, []Text{msgDisabled})
		return c.Error(errFormInvalid)
	}
	if si := stepOf(fc); kind == core.FlowVerification && si.interrupt != nil {
		// An after-verification web hook stopped it (submitAddressFlow):
		// the right code is used up, as Kratos does, and the address stays
		// unverified; the answer is a new flow with the hook's messages.
		si.provenIdentity, si.interrupted = i.ID, true
		return c.Error(errFormInvalid)
	}
	now := fc.Now().UTC()
	changed := false
	for j := range i.Addresses {
		a := &i.Addresses[j]
		if a.Via == core.ViaEmail && a.Value == addr && a.Verifiable && !a.Verified {
			a.Verified, a.VerifiedAt, a.Status, a.UpdatedAt = true, &now, core.AddressCompleted, now
			changed = true
		}
	}
	if changed {
		if err := fc.Tx().UpdateIdentity(fc.Context(), i); err != nil {
			return fmt.Errorf("mark address verified: %w", err)
		}
	}
	if kind == core.FlowVerification {
		keyMessages.Set(st, []Text{msgVerified})
	}
	stepOf(fc).provenIdentity = i.ID
	fc.ClearHistory()
	return c.Continue(statePassedChallenge)
}

// sendToAddress sends a code or link for the flow to raw, inside the step's
// transaction. Enumeration safe: an address no account has gets the same
// answer (and, with notify_unknown_recipients, the "invalid" template). It
// returns errFormInvalid after putting a message on the form when raw is not
// an e-mail address.
func (s *SelfService) sendToAddress(fc *flow.Context, kind core.FlowKind, method, raw string) error {
	st := fc.Stash()
	addr := schema.Normalize(core.ViaEmail, raw)
	keyValues.Set(st, keep("email", addr))
	if !schema.ValidAddress(core.ViaEmail, addr) {
		keyNodeMessages.Set(st, map[string][]Text{"email": {invalidEmailText(raw)}})
		return errFormInvalid
	}
	ctx, tx := fc.Context(), fc.Tx()
	i, err := tx.FindIdentityByAddress(ctx, core.ViaEmail, addr)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("find address: %w", err)
	}
	var known *core.Address
	if i != nil && (kind == core.FlowVerification || i.State == core.IdentityActive) {
		for j := range i.Addresses {
			a := &i.Addresses[j]
			if a.Via == core.ViaEmail && a.Value == addr && (kind == core.FlowRecovery && a.Recovery || kind == core.FlowVerification && a.Verifiable) {
				known = a
			}
		}
	}
	keyAddress.Set(st, addr)
	keyAddrMethod.Set(st, method)
	keyAddrCode.Delete(st)
	keyMessages.Set(st, []Text{sentText(kind, method)})
	si := stepOf(fc)
	var lang, hdrLang, accept string
	if si.r != nil {
		hdrLang, accept = si.r.Header.Get("X-Language"), si.r.Header.Get("Accept-Language")
	}
	if known == nil {
		fc.SetIdentityID("")
		if !s.notifyUnknown(kind) {
			return nil
		}
		lang = courier.Language(hdrLang, accept, "")
		_, err := s.addr.courier.Enqueue(ctx, tx, courier.Request{TemplateType: invalidTemplate(kind, method),
			Channel: core.ChannelEmail, Recipient: addr, Language: lang, Data: map[string]any{"To": addr}})
		if err != nil {
			return fmt.Errorf("enqueue %s message: %w", kind, err)
		}
		return nil
	}
	lang = courier.Language(hdrLang, accept, i.Locale)
	var plain string
	var stored code.Code
	bind := binding(kind, fc.FlowID(), addr)
	if method == methodLink {
		plain, stored, err = s.addr.links.IssueToken(bind)
	} else {
		plain, stored, err = s.addr.codes.Issue(bind)
	}
	if err != nil {
		return fmt.Errorf("issue %s %s: %w", kind, method, err)
	}
	keyAddrCode.Set(st, stored)
	fc.SetIdentityID(i.ID)
	minutes := int(math.Ceil(stored.ExpiresAt.Sub(stored.IssuedAt).Minutes()))
	data := map[string]any{"To": addr, "ExpiresInMinutes": minutes, "Identity": map[string]any{"id": i.ID}}
	var tmpl string
	switch {
	case kind == core.FlowRecovery && method == methodLink:
		tmpl, data["RecoveryURL"] = courier.TypeRecoveryValid, s.linkURL(kind, fc.FlowID(), "token", plain)
	case kind == core.FlowRecovery:
		tmpl, data["RecoveryCode"] = courier.TypeRecoveryCodeValid, plain
	case method == methodLink:
		tmpl, data["VerificationURL"] = courier.TypeVerificationValid, s.linkURL(kind, fc.FlowID(), "token", plain)
	default:
		tmpl, data["VerificationCode"] = courier.TypeVerificationCodeValid, plain
		data["VerificationURL"] = s.linkURL(kind, fc.FlowID(), "code", plain)
	}
	if _, err := s.addr.courier.Enqueue(ctx, tx, courier.Request{TemplateType: tmpl, Channel: core.ChannelEmail,
		Recipient: addr, Language: lang, Data: data}); err != nil {
		return fmt.Errorf("enqueue %s message: %w", kind, err)
	}
	if kind == core.FlowVerification && !known.Verified && known.Status != core.AddressSent {
		now := fc.Now().UTC()
		known.Status, known.UpdatedAt = core.AddressSent, now
		if err := tx.UpdateIdentity(ctx, i); err != nil {
			return fmt.Errorf("mark address sent: %w", err)
		}
	}
	return nil
}

// notifyUnknown reports whether an address without an account is told
// that someone asked.
func (s *SelfService) notifyUnknown(kind core.FlowKind) bool {
	if kind == core.FlowRecovery {
		return s.cfg.Flows.Recovery.NotifyUnknownRecipients
	}
	return s.cfg.Flows.Verification.NotifyUnknownRecipients
}

// invalidTemplate is the template sent to unknown recipients.
func invalidTemplate(kind core.FlowKind, method string) string {
	switch {
	case kind == core.FlowRecovery && method == methodLink:
		return courier.TypeRecoveryInvalid
	case kind == core.FlowRecovery:
		return courier.TypeRecoveryCodeInvalid
	case method == methodLink:
		return courier.TypeVerificationInvalid
	}
	return courier.TypeVerificationCodeInvalid
}
