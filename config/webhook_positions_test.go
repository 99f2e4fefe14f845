package config

import (
	"strings"
	"testing"
)

// TestInterruptingWebHookPositions: can_interrupt and response.parse load
// in every position Kratos runs them — before hooks (where an answer may
// only interrupt), every registration list but profile's, login and
// settings after hooks, flow-wide and per method. Where a 200 answer's
// identity is not saved (before hooks, after login) a warning names the
// key.
func TestInterruptingWebHookPositions(t *testing.T) {
	t.Parallel()
	const hook = `[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","can_interrupt":true,"response":{"parse":true}}}]`
	for _, env := range []string{
		"LOGIN_BEFORE_HOOKS", "REGISTRATION_BEFORE_HOOKS", "SETTINGS_BEFORE_HOOKS",
		"REGISTRATION_AFTER_HOOKS", "REGISTRATION_AFTER_CODE_HOOKS", "REGISTRATION_AFTER_OIDC_HOOKS", "REGISTRATION_AFTER_PASSWORD_HOOKS",
		"LOGIN_AFTER_HOOKS", "LOGIN_AFTER_PASSWORD_HOOKS", "LOGIN_AFTER_CODE_HOOKS", "LOGIN_AFTER_OIDC_HOOKS",
		"SETTINGS_AFTER_HOOKS", "SETTINGS_AFTER_PROFILE_HOOKS", "SETTINGS_AFTER_PASSWORD_HOOKS", "SETTINGS_AFTER_TOTP_HOOKS",
	} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			_, w, err := loadYAML(t, minimal, []string{"LATCHKEY_SELFSERVICE_FLOWS_" + env + "=" + hook}, false)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			// Where a 200 answer's identity is not saved, the key says so.
			key := "selfservice.flows." + strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(env, "_HOOKS"), "_", ".")) + ".hooks[0].config.response.parse"
			unsaved := strings.Contains(env, "BEFORE") || strings.HasPrefix(env, "LOGIN_AFTER")
			if got := hasWarning(w, key, "not saved"); got != unsaved {
				t.Fatalf("warning about %s: %v, want %v (%v)", key, got, unsaved, w)
			}
		})
	}
	_, _, err := loadYAML(t, minimal, []string{"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PROFILE_HOOKS=" + hook}, false)
	if err == nil || !strings.Contains(err.Error(), "registration.after.profile.hooks[0]") {
		t.Fatalf("registration.after.profile.hooks: %v", err)
	}
}
