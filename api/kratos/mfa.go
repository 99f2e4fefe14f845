package kratos

import (
	"context"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
)

// secondFactor is a credential method that completes a login at aal2
// (Kratos' aal2 strategies: totp, lookup_secret, webauthn security keys,
// code when mfa_enabled). Adding one is appending it to secondFactors:
//
//   - strategy is its login strategy (method name, body fields, nodes,
//     prepare); its nodes render only on ?aal=aal2 flows of an identity
//     for which configured is true, and its prepare runs only there;
//   - configured reports whether the identity has the factor set up: it
//     decides the identity's highest available AAL (whoami, settings and
//     the step-up after a first-factor login);
//   - aal is the level its entry in authentication_methods has (aal2).
//
// A successful prepare (or its tx) sets outcome.next to
// statePassedChallenge; finishLogin then adds {method, aal} to the caller's
// session, upgrading it in place.
type secondFactor struct {
	strategy
	configured func(ctx context.Context, i *core.Identity) (bool, error)
	aal        core.AAL
}

// secondFactors returns the enabled second factors.
func (s *SelfService) secondFactors() []secondFactor {
	var out []secondFactor
	if s.totp != nil {
		out = append(out, s.totpFactor())
	}
	if s.lookup != nil {
		out = append(out, s.lookupFactor())
	}
	if s.securityKeys != nil && !s.webauthnPasswordless() {
		out = append(out, s.webauthnFactor())
	}
	if s.codeMFA() {
		out = append(out, s.codeFactor())
	}
	return out
}

// secondFactorStrategies returns the login strategies of the second
// factors, guarded so they act only on aal2 flows.
func (s *SelfService) secondFactorStrategies() []strategy {
	var out []strategy
	for _, f := range s.secondFactors() {
		f := f
		st := f.strategy
		st.nodes = func(v *view) []Node {
			if val(keyAAL, v.res.Stash) != string(core.AAL2) || v.ident == nil {
				return nil
			}
			if ok, err := f.configured(context.Background(), v.ident); err != nil || !ok {
				return nil
			}
			return f.strategy.nodes(v)
		}
		st.prepare = func(sub *submission) (*outcome, error) {
			if val(keyAAL, sub.res.Stash) != string(core.AAL2) {
				return &outcome{messages: []Text{noStrategyText(string(core.FlowLogin))}}, nil
			}
			if sub.sess == nil {
				return nil, aal1Required()
			}
			if sub.res.Flow.IdentityID != "" && sub.res.Flow.IdentityID != sub.sess.IdentityID {
				return nil, identityMismatch()
			}
			return f.strategy.prepare(sub)
		}
		out = append(out, st)
	}
	return out
}

// methodAAL is the level of a login method's entry in
// authentication_methods.
func (s *SelfService) methodAAL(method string) core.AAL {
	for _, f := range s.secondFactors() {
		if f.method == method {
			return f.aal
		}
	}
	return core.AAL1
}

// highestAAL is the highest level the identity can reach: aal2 when it has
// any enabled second factor set up (Kratos' available_aal).
func (s *SelfService) highestAAL(ctx context.Context, i *core.Identity) (core.AAL, error) {
	for _, f := range s.secondFactors() {
		ok, err := f.configured(ctx, i)
		if err != nil {
			return "", err
		}
		if ok {
			return core.AAL2, nil
		}
	}
	return core.AAL1, nil
}

// needsAAL2 reports whether a session must step up before it may be used
// where required is "highest_available": the session is below aal2 and its
// identity has a second factor. i may be loaded without credentials; it is
// reloaded with them when the answer depends on it.
func (s *SelfService) needsAAL2(ctx context.Context, required string, sess *core.Session, i *core.Identity) (bool, error) {
	if required != "highest_available" || sess.AAL == core.AAL2 || len(s.secondFactors()) == 0 {
		return false, nil
	}
	if i == nil || i.Credentials == nil {
		full, err := s.identityFor(ctx, sess)
		if err != nil {
			return false, err
		}
		i = full
	}
	highest, err := s.highestAAL(ctx, i)
	if err != nil {
		return false, &core.Error{Code: core.CodeInternal, Message: "Checking the second factors failed.", Cause: err}
	}
	return highest == core.AAL2, nil
}

// whoamiNeedsAAL2 is needsAAL2 for whoami's required_aal: the identity's
// highest level, which takes reading its credentials, is kept in the
// session cache's memo (any change of its credentials, WebAuthn ones
// included, drops the entry with the memo).
func (s *SelfService) whoamiNeedsAAL2(ctx context.Context, sess *core.Session, memo session.Memo) (bool, error) {
	if s.sessCfg.WhoAmI.RequiredAAL != "highest_available" || sess.AAL == core.AAL2 || len(s.secondFactors()) == 0 {
		return false, nil
	}
	if b := memo.Load(session.MemoHighestAAL); b != nil {
		return core.AAL(b) == core.AAL2, nil
	}
	i, err := s.identityFor(ctx, sess)
	if err != nil {
		return false, err
	}
	highest, err := s.highestAAL(ctx, i)
	if err != nil {
		return false, &core.Error{Code: core.CodeInternal, Message: "Checking the second factors failed.", Cause: err}
	}
	memo.Store(session.MemoHighestAAL, []byte(highest))
	return highest == core.AAL2, nil
}

// aal2LoginURL is the browser login flow that steps the session up.
func (s *SelfService) aal2LoginURL(returnTo string) string {
	q := url.Values{"aal": {"aal2"}}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	return s.url("self-service/login/browser", q)
}

// aal2Required is the 403 of a session below the highest available AAL.
func aal2Required(to string) error {
	return &kratosError{status: http.StatusForbidden, id: "session_aal2_required",
		reason:  "An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the session must (re-)authenticate using a second factor.",
		message: "Session does not fulfill the requested Authenticator Assurance Level",
		extra:   map[string]any{"redirect_browser_to": to}}
}

// boolField reads a boolean body field sent as JSON true or form "true".
func boolField(sub *submission, name string) bool {
	switch v := sub.body[name].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1" || v == "on"
	}
	return false
}
