package config

import (
	"fmt"
	"strings"
)

// warnParseWithoutIdentity warns about a response.parse web_hook where a
// 200 answer's identity is not saved, as in Kratos: in before hooks (no
// identity exists yet) and after login (Kratos changes identities only in
// registration and settings). Its error answer still interrupts the flow,
// so the key is accepted; the half that has no effect is named.
func (s SelfService) warnParseWithoutIdentity(w *[]Warning) {
	f := s.Flows
	lists := map[string][]Hook{
		"login.before.hooks": f.Login.Before.Hooks, "registration.before.hooks": f.Registration.Before.Hooks,
		"settings.before.hooks": f.Settings.Before.Hooks, "recovery.before.hooks": f.Recovery.Before.Hooks,
		"verification.before.hooks": f.Verification.Before.Hooks, "login.after.hooks": f.Login.After.Hooks,
	}
	a := f.Login.After
	for name, m := range map[string]AfterMethod{"password": a.Password, "code": a.Code, "webauthn": a.WebAuthn, "passkey": a.Passkey,
		"oidc": a.OIDC, "totp": a.TOTP, "lookup_secret": a.LookupSecret, "profile": a.Profile} {
		lists["login.after."+name+".hooks"] = m.Hooks
	}
	for _, key := range sortedKeys(lists) {
		for i, h := range lists[key] {
			if h.Hook != "web_hook" {
				continue
			}
			if wh, p := ParseWebHook("", h.Config); len(p) == 0 && wh.Parse {
				where := "before a flow (there is no identity yet)"
				if strings.HasPrefix(key, "login.after") {
					where = "after login (Kratos changes identities only in registration and settings)"
				}
				*w = append(*w, Warning{Key: fmt.Sprintf("selfservice.flows.%s[%d].config.response.parse", key, i),
					Message: "an error answer {\"messages\": [...]} interrupts the flow (as can_interrupt does), but an identity in a 200 answer is not saved " + where + ", as in Kratos"})
			}
		}
	}
}
