package kratos

import (
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// recoveredText is message 1060001, shown on the settings flow a recovery
// hands over to: the user has until the privileged session ends to set a
// new password.
func recoveredText(until time.Time, now time.Time) Text {
	return Text{ID: MsgRecoverySuccessful, Type: textSuccess,
		Text: fmt.Sprintf("You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next %.2f minutes.", until.Sub(now).Minutes()),
		Context: map[string]any{"privilegedSessionExpiresAt": until.UTC().Format(time.RFC3339Nano),
			"privileged_session_expires_at": until.UTC().Format(time.RFC3339Nano), "privileged_session_expires_at_unix": until.Unix()}}
}

// privilegedMaxAge is selfservice.flows.settings.privileged_session_max_age.
func (s *SelfService) privilegedMaxAge() time.Duration {
	if d := s.cfg.Flows.Settings.PrivilegedSessionMaxAge; d > 0 {
		return d
	}
	return 15 * time.Minute
}

// finishRecovery answers a recovery whose code or link was right: the
// recovery.after web hooks run (and may stop it), a new session (amr
// code_recovery or link_recovery) is issued, other sessions are
// revoked when the revoke_active_sessions hook is configured, and a settings
// flow is created for the new password. Browsers go to the settings UI; an
// SPA gets 422 browser_location_change_required to it; native apps get the
// recovery flow with continue_with set_ory_session_token and
// show_settings_ui. A link is always answered as a browser navigation.
func (s *SelfService) finishRecovery(w http.ResponseWriter, r *http.Request, res *flow.Result, si *stepInfo, jsonAnswer, viaLink bool) {
	typ := res.Flow.Type
	method := "code_recovery"
	if viaLink {
		typ, method = "browser", "link_recovery"
	}
	ident, err := s.st.GetIdentity(r.Context(), si.provenIdentity)
	if err != nil {
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeInternal, Message: "Loading the identity failed.", Cause: err})
		return
	}
	// The web hooks run before the session is stored, as Kratos' do: one
	// that interrupts or fails leaves no session behind.
	if !s.runAddressAfterHooks(w, r, core.FlowRecovery, typ, res, ident, si.hooksQueued, jsonAnswer) {
		return
	}
	out, err := s.issueSession(w, r, ident.ID, method, typ)
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	var tok []byte
	if typ == "browser" {
		if tok, err = s.csrf.rotate(w); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	a := s.cfg.Flows.Recovery.After
	if s.hasHook(hookNames(a.Hooks, nil), "revoke_active_sessions") {
		if _, err := s.sessions.RevokeOthers(r.Context(), ident.ID, out.session.ID); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	now := s.now()
	msg := recoveredText(out.session.AuthenticatedAt.Add(s.privilegedMaxAge()), now)
	// The settings flow takes the recovery's return_to, else
	// recovery.after.default_browser_return_url (Kratos'
	// TakeOverReturnToParameter with SelfServiceFlowRecoveryReturnTo).
	ret := val(keyReturnTo, res.Stash)
	if ret == "" {
		ret = s.cfg.Flows.Recovery.After.DefaultBrowserReturnURL
	}
	settings, err := s.start(r.Context(), core.FlowSettings, typ, s.url("self-service/settings/"+typ, nil), ret, tok,
		initState{ident: ident, seed: func(st *flow.Stash) { keyMessages.Set(st, []Text{msg}) }})
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	settingsUI := s.uiURL(core.FlowSettings, settings.Flow.ID)
	switch {
	case !jsonAnswer:
		redirect(w, r, settingsUI)
	case typ == "browser":
		s.writeError(w, r, true, browserLocationChange(settingsUI))
	default:
		body := s.renderAddress(r, core.FlowRecovery, res, nil)
		body.ContinueWith = []ContinueWith{
			{Action: "set_ory_session_token", OrySessionToken: out.token},
			{Action: "show_settings_ui", Flow: &ContinueWithFlow{ID: settings.Flow.ID}},
		}
		api.WriteJSON(w, http.StatusOK, body)
	}
}
