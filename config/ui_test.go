package config

import (
	"strings"
	"testing"
)

func TestUIEnabledAndWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      []string
		enabled  bool
		warnKeys []string
	}{
		{name: "default on", env: []string{}, enabled: true},
		{name: "off with default ui urls", env: []string{"LATCHKEY_UI_ENABLED=false"}, enabled: false,
			warnKeys: []string{"selfservice.flows.login.ui_url", "selfservice.flows.registration.ui_url", "selfservice.flows.settings.ui_url",
				"selfservice.flows.recovery.ui_url", "selfservice.flows.verification.ui_url", "selfservice.flows.error.ui_url",
				"selfservice.default_browser_return_url"}},
		{name: "off with own ui", enabled: false, env: []string{"LATCHKEY_UI_ENABLED=false",
			"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_UI_URL=https://app.example.com/login",
			"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_UI_URL=https://app.example.com/registration",
			"LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_UI_URL=https://app.example.com/settings",
			"LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_UI_URL=https://app.example.com/recovery",
			"LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_UI_URL=https://app.example.com/verification",
			"LATCHKEY_SELFSERVICE_FLOWS_ERROR_UI_URL=https://app.example.com/error",
			"LATCHKEY_SELFSERVICE_DEFAULT_BROWSER_RETURN_URL=https://app.example.com/",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, warnings, err := Load(LoadOptions{Dev: true, Env: tt.env})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.UI.Enabled != tt.enabled {
				t.Errorf("ui.enabled = %v, want %v", c.UI.Enabled, tt.enabled)
			}
			var got []string
			for _, w := range warnings {
				if strings.Contains(w.Message, "ui.enabled is false") {
					got = append(got, w.Key)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.warnKeys, ",") {
				t.Errorf("ui warnings for %v, want %v", got, tt.warnKeys)
			}
		})
	}
}
