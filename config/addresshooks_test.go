package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestAddressFlowHooks: web_hook runs before and after recovery and
// verification (Kratos' selfServiceBeforeRecovery/Verification and
// selfServiceAfterRecovery/Verification); what Kratos has no key or hook
// for there is refused by name, and response.parse after them warns that
// a 200 answer's identity is not saved.
func TestAddressFlowHooks(t *testing.T) {
	t.Parallel()
	const hook = `{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ=="%s}}`
	web := func(extra string) string { return "[" + fmt.Sprintf(hook, extra) + "]" }
	for _, tc := range []struct {
		name, env    string
		key, problem string // empty: the configuration loads
	}{
		{"recovery before", "RECOVERY_BEFORE_HOOKS=" + web(`,"can_interrupt":true`), "", ""},
		{"verification before", "VERIFICATION_BEFORE_HOOKS=" + web(""), "", ""},
		{"recovery after", "RECOVERY_AFTER_HOOKS=" + web(`,"can_interrupt":true`), "", ""},
		{"recovery after revoke", `RECOVERY_AFTER_HOOKS=[{"hook":"revoke_active_sessions"}]`, "", ""},
		{"verification after ignore", "VERIFICATION_AFTER_HOOKS=" + web(`,"response":{"ignore":true}`), "", ""},
		{"verification after parse", "VERIFICATION_AFTER_HOOKS=" + web(`,"response":{"parse":true}`), "", ""},
		{"recovery before parse", "RECOVERY_BEFORE_HOOKS=" + web(`,"response":{"parse":true}`), "", ""}, // interrupts only (warned)
		{"recovery before session", `RECOVERY_BEFORE_HOOKS=[{"hook":"session"}]`,
			"selfservice.flows.recovery.before.hooks[0].hook", "does not run before a flow"},
		{"recovery after session", `RECOVERY_AFTER_HOOKS=[{"hook":"session"}]`,
			"selfservice.flows.recovery.after.hooks[0].hook", "only web_hook and revoke_active_sessions run"},
		{"verification after revoke", `VERIFICATION_AFTER_HOOKS=[{"hook":"revoke_active_sessions"}]`,
			"selfservice.flows.verification.after.hooks[0].hook", "only web_hook runs"},
		{"recovery after per method", "RECOVERY_AFTER_CODE_HOOKS=" + web(""),
			"selfservice.flows.recovery.after.code", "no per-method settings"},
		{"verification after per method return url", "VERIFICATION_AFTER_PASSWORD_DEFAULT_BROWSER_RETURN_URL=https://app.example.com/",
			"selfservice.flows.verification.after.password", "no per-method settings"},
		{"ignore and interrupt", "RECOVERY_AFTER_HOOKS=" + web(`,"can_interrupt":true,"response":{"ignore":true}`),
			"selfservice.flows.recovery.after.hooks[0].config", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := []string{"LATCHKEY_SELFSERVICE_FLOWS_" + tc.env}
			if tc.key == "" {
				mustLoad(t, minimal, env, false)
				return
			}
			ps := problems(t, minimal, env, false)
			for _, p := range ps {
				if strings.HasPrefix(p.Key, tc.key) && strings.Contains(p.Message, tc.problem) {
					return
				}
			}
			t.Errorf("no problem %s %q in %v", tc.key, tc.problem, ps)
		})
	}

	_, w := mustLoad(t, minimal, []string{"LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_AFTER_HOOKS=" + web(`,"response":{"parse":true}`)}, false)
	if !hasWarning(w, "selfservice.flows.verification.after.hooks[0].config.response.parse", "not saved after verification") {
		t.Errorf("no response.parse warning: %v", w)
	}
	_, w = mustLoad(t, minimal, []string{"LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_AFTER_HOOKS=" + web(`,"can_interrupt":true`)}, false)
	if hasWarning(w, "selfservice.flows.verification.after.hooks[0].config.response.parse", "") {
		t.Errorf("response.parse warning without response.parse: %v", w)
	}
}
