package kratos

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/ratelimit"
)

// keyTOTPPending holds the key a settings flow offers for enrollment,
// sealed to the identity (method/totp's credential config). It is made when
// the flow starts and again after an unlink.
var keyTOTPPending = flow.NewStickyKey[[]byte]("kratos.settings.totp_pending")

// TOTP texts (notes §4).
var (
	labelTOTPCode      = infoText(1010006, "Authentication code")
	labelUseTOTP       = infoText(1010009, "Use Authenticator")
	labelTOTPVerify    = infoText(1070006, "Verify code")
	labelTOTPQR        = infoText(1050005, "Authenticator app QR code")
	labelTOTPSecret    = infoText(1050017, "This is your authenticator app secret. Use it if you can not scan the QR code.")
	labelTOTPUnlink    = infoText(1050004, "Unlink TOTP Authenticator App")
	msgTOTPWrong       = Text{ID: 4000008, Type: textError, Text: "The provided authentication code is invalid, please try again."}
	msgTOTPNotSetUp    = Text{ID: 4000011, Type: textError, Text: "You have no TOTP device set up."}
	groupTOTP          = "totp"
	methodTOTP         = "totp"
	totpCodeInputs     = []flow.Input{{Name: "totp_code", Type: flow.TypeString}}
	totpSettingsInputs = []flow.Input{{Name: "totp_code", Type: flow.TypeString}}
)

func (s *SelfService) totpFactor() secondFactor {
	return secondFactor{
		strategy: strategy{method: methodTOTP, inputs: totpCodeInputs, nodes: s.totpLoginNodes, prepare: s.totpLogin},
		configured: func(_ context.Context, i *core.Identity) (bool, error) {
			_, ok := i.Credential(core.CredentialTOTP)
			return ok, nil
		},
		aal: core.AAL2,
	}
}

// totpLoginNodes are the aal2 login form of the totp method.
func (s *SelfService) totpLoginNodes(*view) []Node {
	n := inputNode(groupTOTP, "totp_code", "text", true, textPtr(labelTOTPCode))
	n.Attributes.Value = ""
	return []Node{n, submitNode(groupTOTP, "method", methodTOTP, labelUseTOTP)}
}

// totpLogin checks a code of the session's identity in the step's
// transaction: the attempt is counted first (a 429 rolls the step back), the
// code's time step is claimed (a code is accepted once, on either face) and
// a right attempt is taken back, all committing together, as the Hanko
// face's TOTP check does. The code is compared inside the transaction, so
// parallel guesses meet the counts of the ones before them.
func (s *SelfService) totpLogin(sub *submission) (*outcome, error) {
	code := sub.str("totp_code")
	o := &outcome{}
	if code == "" {
		o.nodeMessages = map[string][]Text{"totp_code": {requiredText("totp_code")}}
		return o, nil
	}
	i := sub.ident
	cred, ok := i.Credential(core.CredentialTOTP)
	if !ok {
		o.messages = []Text{msgTOTPNotSetUp}
		return o, nil
	}
	key, err := s.totp.Open(i.ID, cred.Config)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "The stored TOTP key cannot be read.", Cause: err}
	}
	ip := clientIP(sub.r)
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		attempts := s.attempts.In(fc.Tx())
		attempt, err := attempts.Begin(fc.Context(), ratelimit.TOTP, i.ID, ip)
		if err != nil {
			return attemptError(err)
		}
		err = s.totp.Claim(fc.Context(), fc.Tx(), i.ID, key, code)
		switch {
		case errors.Is(err, totp.ErrInvalid), errors.Is(err, totp.ErrReplayed):
			o.nodeMessages = map[string][]Text{"totp_code": {msgTOTPWrong}}
			return nil
		case err != nil:
			return err
		}
		if err := attempt.Succeed(fc.Context(), attempts); err != nil {
			return err
		}
		o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
		return nil
	}
	return o, nil
}

// attemptCheck counts one attempt of a second factor of kind for the
// identity from the request's client address (ratelimit.Policy.Begin): 429
// when a limit is reached. The step's transaction reports a right code
// with the attempt's Succeed.
func (s *SelfService) attemptCheck(sub *submission, kind ratelimit.Kind, identityID string) (ratelimit.Attempt, error) {
	a, err := s.attempts.Begin(sub.r.Context(), kind, identityID, clientIP(sub.r))
	return a, attemptError(err)
}

// attemptError is the answer to the error of counting an attempt: the 429
// (*rateLimited, with Retry-After) when a limit is reached, an internal
// error when counting failed, nil for nil.
func attemptError(err error) error {
	var ex *ratelimit.ExceededError
	switch {
	case errors.As(err, &ex):
		return &rateLimited{retryAfter: ex.RetryAfter}
	case err != nil:
		return &core.Error{Code: core.CodeInternal, Message: "Counting the attempt failed.", Cause: err}
	}
	return nil
}

// totpSettingsStrategy is the settings strategy of the totp method.
func (s *SelfService) totpSettingsStrategy() strategy {
	return strategy{method: methodTOTP, inputs: totpSettingsInputs, nodes: s.totpSettingsNodes, prepare: s.totpSettings,
		fields: []string{"totp_unlink"}}
}

// pendingTOTP makes a new key for the identity's settings flow, sealed.
func (s *SelfService) pendingTOTP(i *core.Identity) ([]byte, error) {
	k, err := s.totp.Generate(s.loginIdentifierOf(i))
	if err != nil {
		return nil, err
	}
	return s.totp.Seal(i.ID, k)
}

// settingsSeed returns what a new settings flow of the identity stores
// besides the common keys: the TOTP key it offers.
func (s *SelfService) settingsSeed(i *core.Identity) (func(st *flow.Stash), error) {
	if s.totp == nil || i == nil {
		return nil, nil
	}
	if _, has := i.Credential(core.CredentialTOTP); has {
		return nil, nil
	}
	sealed, err := s.pendingTOTP(i)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Making a TOTP key failed.", Cause: err}
	}
	return func(st *flow.Stash) { keyTOTPPending.Set(st, sealed) }, nil
}

// totpSettingsNodes offer enrollment (QR code, secret, code) or unlinking.
func (s *SelfService) totpSettingsNodes(v *view) []Node {
	if v.ident == nil {
		return nil
	}
	if _, has := v.ident.Credential(core.CredentialTOTP); has {
		n := submitNode(groupTOTP, "totp_unlink", "true", labelTOTPUnlink)
		n.Attributes.Required = true
		return []Node{n}
	}
	sealed, ok := keyTOTPPending.Get(v.res.Stash)
	if !ok {
		return nil
	}
	k, err := s.totp.Open(v.ident.ID, sealed)
	if err != nil {
		return nil
	}
	img, err := k.ImageDataURL()
	if err != nil {
		return nil
	}
	secret := k.Secret()
	return []Node{
		imageNode(groupTOTP, "totp_qr", img, totp.ImageWH, totp.ImageWH, labelTOTPQR),
		textNode(groupTOTP, "totp_secret_key", Text{ID: 1050006, Text: secret, Type: textInfo,
			Context: map[string]any{"secret": secret}}, labelTOTPSecret),
		inputNode(groupTOTP, "totp_code", "text", true, textPtr(labelTOTPVerify)),
		submitNode(groupTOTP, "method", methodTOTP, labelSave),
	}
}

// totpSettings links the offered key after a right code, or unlinks the
// identity's key. Both need a privileged session.
func (s *SelfService) totpSettings(sub *submission) (*outcome, error) {
	o := &outcome{}
	i := sub.ident
	if boolField(sub, "totp_unlink") {
		if _, has := i.Credential(core.CredentialTOTP); !has {
			o.messages = []Text{msgTOTPNotSetUp}
			return o, nil
		}
		if !s.privileged(sub.sess) {
			return nil, s.reauth(sub)
		}
		next, err := s.pendingTOTP(i)
		if err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Making a TOTP key failed.", Cause: err}
		}
		o.tx = func(c *flow.ActionContext, o *outcome) error {
			fc := c.Base()
			ids := s.ids.WithTx(fc.Tx())
			if err := ids.DeleteCredential(fc.Context(), i.ID, core.CredentialTOTP, ""); err != nil {
				return err
			}
			updated, err := ids.Get(fc.Context(), i.ID)
			if err != nil {
				return err
			}
			o.ident, o.next, o.messages = updated, stateSuccess, []Text{msgSettingsSaved}
			o.stash = func(st *flow.Stash) { keyTOTPPending.Set(st, next) }
			return nil
		}
		return o, nil
	}
	code := sub.str("totp_code")
	if code == "" {
		o.nodeMessages = map[string][]Text{"totp_code": {requiredText("totp_code")}}
		return o, nil
	}
	if _, has := i.Credential(core.CredentialTOTP); has {
		o.messages = []Text{genericText("A TOTP device is already set up; unlink it first to set up another one.")}
		return o, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	sealed, ok := keyTOTPPending.Get(sub.res.Stash)
	if !ok {
		o.messages = []Text{genericText("This settings flow offers no TOTP key; start a new settings flow.")}
		return o, nil
	}
	k, err := s.totp.Open(i.ID, sealed)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "The offered TOTP key cannot be read.", Cause: err}
	}
	attempt, err := s.attemptCheck(sub, ratelimit.TOTP, i.ID)
	if err != nil {
		return nil, err
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		// The enrollment code is claimed too: it cannot log in afterwards.
		if err := s.totp.Claim(fc.Context(), fc.Tx(), i.ID, k, code); err != nil {
			if errors.Is(err, totp.ErrReplayed) || errors.Is(err, totp.ErrInvalid) {
				o.nodeMessages = map[string][]Text{"totp_code": {msgTOTPWrong}}
				return nil
			}
			return err
		}
		if err := attempt.Succeed(fc.Context(), s.attempts.In(fc.Tx())); err != nil {
			return err
		}
		updated, err := s.ids.WithTx(fc.Tx()).PutSecondFactor(fc.Context(), i.ID, core.CredentialTOTP, sealed)
		if err != nil {
			return err
		}
		o.ident, o.next, o.messages = updated, stateSuccess, []Text{msgSettingsSaved}
		o.stash = func(st *flow.Stash) { keyTOTPPending.Delete(st) }
		return nil
	}
	return o, nil
}

// imageNode returns an img node.
func imageNode(group, id, src string, w, h int, label Text) Node {
	return Node{Type: "img", Group: group, Messages: []Text{}, Meta: Meta{Label: &label},
		Attributes: Attributes{NodeType: "img", AnchorID: id, Other: struct {
			Src      string `json:"src"`
			ID       string `json:"id"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
			NodeType string `json:"node_type"`
		}{src, id, w, h, "img"}}}
}

// textNode returns a text node.
func textNode(group, id string, text Text, label Text) Node {
	return Node{Type: "text", Group: group, Messages: []Text{}, Meta: Meta{Label: &label},
		Attributes: Attributes{NodeType: "text", AnchorID: id, Other: struct {
			Text     Text   `json:"text"`
			ID       string `json:"id"`
			NodeType string `json:"node_type"`
		}{text, id, "text"}}}
}
