package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/ratelimit"
)

// Settings stash of the lookup_secret method: codes made by "regenerate"
// and waiting for "confirm" (sealed, method/lookup's config), and whether
// the stored codes are revealed.
var (
	keyLookupPending = flow.NewStickyKey[[]byte]("kratos.settings.lookup_pending")
	keyLookupReveal  = flow.NewKey[bool]("kratos.settings.lookup_reveal")
)

// lookup_secret texts (notes §4).
var (
	labelLookupCode       = infoText(1010007, "Backup recovery code")
	labelUseLookup        = infoText(1010010, "Use backup recovery code")
	labelLookupReveal     = infoText(1050007, "Reveal backup recovery codes")
	labelLookupRegenerate = infoText(1050008, "Generate new backup recovery codes")
	labelLookupList       = infoText(1050010, "These are your back up recovery codes. Please keep them in a safe place!")
	labelLookupConfirm    = infoText(1050011, "Confirm backup recovery codes")
	labelLookupDisable    = infoText(1050016, "Disable this method")
	msgLookupUsed         = Text{ID: 4000012, Type: textError, Text: "This backup recovery code has already been used."}
	msgLookupNotSetUp     = Text{ID: 4000014, Type: textError, Text: "You have no backup recovery codes set up."}
	msgLookupInvalid      = Text{ID: 4000016, Type: textError, Text: "The backup recovery code is not valid."}
)

const (
	groupLookup  = "lookup_secret"
	methodLookup = "lookup_secret"
)

func (s *SelfService) lookupFactor() secondFactor {
	return secondFactor{
		strategy: strategy{method: methodLookup, inputs: []flow.Input{{Name: "lookup_secret", Type: flow.TypeString}},
			nodes: s.lookupLoginNodes, prepare: s.lookupLogin},
		configured: func(_ context.Context, i *core.Identity) (bool, error) {
			_, ok := i.Credential(core.CredentialLookupSecret)
			return ok, nil
		},
		aal: core.AAL2,
	}
}

func (s *SelfService) lookupLoginNodes(*view) []Node {
	n := inputNode(groupLookup, "lookup_secret", "text", true, textPtr(labelLookupCode))
	n.Attributes.Value = ""
	return []Node{n, submitNode(groupLookup, "method", methodLookup, labelUseLookup)}
}

// lookupLogin uses one backup code of the session's identity: the attempt
// is counted first; the codes are locked, read, marked and written in the
// step's transaction.
func (s *SelfService) lookupLogin(sub *submission) (*outcome, error) {
	code := sub.str("lookup_secret")
	o := &outcome{}
	if code == "" {
		o.nodeMessages = map[string][]Text{"lookup_secret": {requiredText("lookup_secret")}}
		return o, nil
	}
	i := sub.ident
	if _, ok := i.Credential(core.CredentialLookupSecret); !ok {
		o.messages = []Text{msgLookupNotSetUp}
		return o, nil
	}
	attempt, err := s.attemptCheck(sub, ratelimit.Lookup, i.ID)
	if err != nil {
		return nil, err
	}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		ids := s.ids.WithTx(fc.Tx())
		cfg, err := s.lookup.Use(fc.Context(), fc.Tx(), i.ID, func() (json.RawMessage, error) {
			cur, err := ids.Get(fc.Context(), i.ID)
			if err != nil {
				return nil, err
			}
			cr, _ := cur.Credential(core.CredentialLookupSecret)
			return cr.Config, nil
		}, code)
		switch {
		case errors.Is(err, lookup.ErrInvalid):
			o.messages = []Text{msgLookupInvalid}
			return nil
		case errors.Is(err, lookup.ErrUsed):
			o.messages = []Text{msgLookupUsed}
			return nil
		case errors.Is(err, lookup.ErrNotSetUp):
			o.messages = []Text{msgLookupNotSetUp}
			return nil
		case err != nil:
			return err
		}
		if err := attempt.Succeed(fc.Context(), s.attempts.In(fc.Tx())); err != nil {
			return err
		}
		updated, err := ids.PutSecondFactor(fc.Context(), i.ID, core.CredentialLookupSecret, cfg)
		if err != nil {
			return err
		}
		o.identityID, o.ident, o.next = i.ID, updated, statePassedChallenge
		return nil
	}
	return o, nil
}

func (s *SelfService) lookupSettingsStrategy() strategy {
	// Its buttons carry no method (Kratos' lookup nodes): the button's own
	// field selects the strategy.
	return strategy{method: methodLookup, nodes: s.lookupSettingsNodes, prepare: s.lookupSettings,
		fields: []string{"lookup_secret_reveal", "lookup_secret_regenerate", "lookup_secret_confirm", "lookup_secret_disable"}}
}

// lookupCodesNode lists codes as Kratos' lookup_secret_codes text node.
func lookupCodesNode(codes []lookup.Code) Node {
	secrets := make([]Text, 0, len(codes))
	words := make([]string, 0, len(codes))
	for _, c := range codes {
		if c.UsedAt != nil {
			t := c.UsedAt.UTC().Truncate(time.Second)
			secrets = append(secrets, Text{ID: 1050014, Type: textInfo, Text: "Secret was used at " + t.String(),
				Context: map[string]any{"used_at": t, "used_at_unix": t.Unix()}})
			words = append(words, "used")
			continue
		}
		secrets = append(secrets, Text{ID: 1050009, Type: textInfo, Text: c.Code, Context: map[string]any{"secret": c.Code}})
		words = append(words, c.Code)
	}
	return textNode(groupLookup, "lookup_secret_codes", Text{ID: 1050015, Type: textInfo, Text: strings.Join(words, ", "),
		Context: map[string]any{"secrets": secrets}}, labelLookupList)
}

// lookupSettingsNodes: codes waiting for confirmation; or the stored codes
// (revealed on request) with regenerate and disable; or regenerate.
func (s *SelfService) lookupSettingsNodes(v *view) []Node {
	if v.ident == nil {
		return nil
	}
	if sealed, ok := keyLookupPending.Get(v.res.Stash); ok {
		codes, err := s.lookup.Open(v.ident.ID, sealed)
		if err != nil {
			return nil
		}
		return []Node{lookupCodesNode(codes), submitNode(groupLookup, "lookup_secret_confirm", "true", labelLookupConfirm)}
	}
	cred, has := v.ident.Credential(core.CredentialLookupSecret)
	if !has {
		return []Node{submitNode(groupLookup, "lookup_secret_regenerate", "true", labelLookupRegenerate)}
	}
	if val(keyLookupReveal, v.res.Stash) {
		codes, err := s.lookup.Open(v.ident.ID, cred.Config)
		if err != nil {
			return nil
		}
		return []Node{lookupCodesNode(codes), submitNode(groupLookup, "lookup_secret_regenerate", "true", labelLookupRegenerate),
			submitNode(groupLookup, "lookup_secret_disable", "true", labelLookupDisable)}
	}
	return []Node{submitNode(groupLookup, "lookup_secret_reveal", "true", labelLookupReveal),
		submitNode(groupLookup, "lookup_secret_disable", "true", labelLookupDisable)}
}

// lookupSettings reveals, regenerates, confirms or disables backup codes;
// each needs a privileged session.
func (s *SelfService) lookupSettings(sub *submission) (*outcome, error) {
	o := &outcome{}
	i := sub.ident
	_, has := i.Credential(core.CredentialLookupSecret)
	pending, hasPending := keyLookupPending.Get(sub.res.Stash)
	var act string
	for _, a := range []string{"lookup_secret_confirm", "lookup_secret_regenerate", "lookup_secret_reveal", "lookup_secret_disable"} {
		if boolField(sub, a) {
			act = a
			break
		}
	}
	switch {
	case act == "":
		o.messages = []Text{genericText("Choose one of lookup_secret_reveal, lookup_secret_regenerate, lookup_secret_confirm or lookup_secret_disable.")}
		return o, nil
	case (act == "lookup_secret_reveal" || act == "lookup_secret_disable") && !has:
		o.messages = []Text{msgLookupNotSetUp}
		return o, nil
	case act == "lookup_secret_confirm" && !hasPending:
		o.messages = []Text{genericText("There are no new backup recovery codes to confirm; generate them first.")}
		return o, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	switch act {
	case "lookup_secret_reveal":
		o.next = stateShowForm
		o.stash = func(st *flow.Stash) { keyLookupReveal.Set(st, true) }
	case "lookup_secret_regenerate":
		codes, err := s.lookup.Generate()
		if err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Making backup recovery codes failed.", Cause: err}
		}
		sealed, err := s.lookup.Seal(i.ID, codes)
		if err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Sealing backup recovery codes failed.", Cause: err}
		}
		o.next = stateShowForm
		o.stash = func(st *flow.Stash) { keyLookupPending.Set(st, sealed) }
	case "lookup_secret_confirm":
		o.tx = func(c *flow.ActionContext, o *outcome) error {
			fc := c.Base()
			updated, err := s.ids.WithTx(fc.Tx()).PutSecondFactor(fc.Context(), i.ID, core.CredentialLookupSecret, pending)
			if err != nil {
				return err
			}
			o.ident, o.next, o.messages = updated, stateSuccess, []Text{msgSettingsSaved}
			o.stash = func(st *flow.Stash) { keyLookupPending.Delete(st) }
			return nil
		}
	case "lookup_secret_disable":
		o.tx = func(c *flow.ActionContext, o *outcome) error {
			fc := c.Base()
			ids := s.ids.WithTx(fc.Tx())
			if err := ids.DeleteCredential(fc.Context(), i.ID, core.CredentialLookupSecret, ""); err != nil {
				return err
			}
			updated, err := ids.Get(fc.Context(), i.ID)
			if err != nil {
				return err
			}
			o.ident, o.next, o.messages = updated, stateSuccess, []Text{msgSettingsSaved}
			o.stash = func(st *flow.Stash) { keyLookupPending.Delete(st); keyLookupReveal.Delete(st) }
			return nil
		}
	}
	return o, nil
}
