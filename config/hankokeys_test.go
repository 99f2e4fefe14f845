package config

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
)

// TestHankoConfigKeys loads a Hanko configuration with every key of Hanko's
// defaults under hanko: and checks what becomes of each key (issue #14:
// Hanko's keys are accepted under hanko: with the same rule as Latchkey's).
func TestHankoConfigKeys(t *testing.T) {
	t.Parallel()
	const (
		works   = "works"   // Latchkey's key of the same name: no message
		same    = "same"    // asks for what Latchkey does anyway: a warning
		refused = "refused" // a problem naming the key and saying why
	)
	// want maps each leaf key of the file (below hanko:) to works, same,
	// refused, or the Latchkey key it is read as (a warning naming both).
	want := map[string]string{
		"convert_legacy_config": same, "debug": same, "service.name": "ui.product_name",
		"secrets.keys": "secrets.default", "secrets.key_management.type": same,
		"server.public.address": "serve.public.port", "server.admin.address": "serve.admin.host",
		"server.public.cors.allow_origins":                  "hanko.cors.allow_origins",
		"server.public.cors.unsafe_wildcard_origin_allowed": "hanko.cors.unsafe_wildcard_origin_allowed",
		"server.management.address":                         refused,
		"webauthn.relying_party.id":                         "selfservice.methods.passkey.config.rp.id",
		"webauthn.relying_party.display_name":               "selfservice.methods.passkey.config.rp.display_name",
		"webauthn.relying_party.origins":                    "selfservice.methods.passkey.config.rp.origins",
		"webauthn.user_verification":                        "hanko.passkey.user_verification",
		"webauthn.timeout":                                  same, "webauthn.timeouts.registration": same, "webauthn.timeouts.login": same,
		"security_notifications.notifications.email_create.enabled":    refused,
		"security_notifications.notifications.password_update.enabled": refused,
		"smtp.host": "courier.smtp.connection_uri", "smtp.port": "courier.smtp.connection_uri",
		"email_delivery.enabled": "hanko.email.delivery", "email_delivery.from_address": "courier.smtp.from_address",
		"email_delivery.from_name": "courier.smtp.from_name",
		"passcode.ttl":             works,
		"password.enabled":         works, "password.optional": works, "password.acquire_on_registration": works,
		"password.acquire_on_login": works, "password.recovery": works, "password.min_length": works,
		"database.database": "dsn", "database.user": "dsn", "database.password": "dsn", "database.port": "dsn",
		"database.dialect": "dsn", "database.host": "dsn",
		"session.binding.enabled": same, "session.allow_revocation": same, "session.acquire_ip_address": same,
		"session.acquire_user_agent": same, "session.lifespan": works, "session.enable_auth_token_header": works,
		"session.issuer": "session.jwt.issuer", "session.cookie.name": works, "session.cookie.http_only": works,
		"session.cookie.retention": works, "session.cookie.same_site": works, "session.cookie.secure": works,
		"session.limit": refused, "session.show_on_profile": same, "session.jwt_template.claims": works,
		"audit_log.console_output.enabled": refused, "audit_log.console_output.output_stream": refused,
		"audit_log.storage.enabled": "hanko.audit_log.enabled", "audit_log.mask": "hanko.audit_log.mask_email",
		"audit_log.retention":         "cleanup.retention.audit_logs",
		"emails.require_verification": "hanko.email.require_verification", "emails.max_num_of_addresses": "hanko.email.limit",
		"rate_limiter.enabled": works, "rate_limiter.store": refused,
		"rate_limiter.otp_limits.tokens": refused, "rate_limiter.otp_limits.interval": refused,
		"rate_limiter.password_limits.tokens": works, "rate_limiter.password_limits.interval": works,
		"rate_limiter.passcode_limits.tokens": works, "rate_limiter.passcode_limits.interval": works,
		"rate_limiter.token_limits.tokens": refused, "rate_limiter.token_limits.interval": refused,
		"account.allow_deletion": works, "account.allow_signup": works,
		"third_party.providers.apple.display_name": refused, "third_party.providers.apple.allow_linking": works,
		"third_party.providers.apple.enabled": works, "third_party.providers.github.display_name": refused,
		"third_party.providers.github.allow_linking": works, "third_party.providers.github.enabled": works,
		"passkey.enabled": works, "passkey.optional": same, "passkey.acquire_on_registration": works,
		"passkey.acquire_on_login": works, "passkey.user_verification": works, "passkey.attestation_preference": works,
		"passkey.limit": works,
		"email.enabled": works, "email.optional": works, "email.acquire_on_registration": works,
		"email.acquire_on_login": works, "email.require_verification": works, "email.limit": works,
		"email.use_as_login_identifier": works, "email.max_length": works, "email.use_for_authentication": works,
		"email.passcode_ttl": "hanko.passcode.ttl", "email.passcode_charset": same,
		"username.enabled": works, "username.optional": works, "username.acquire_on_registration": works,
		"username.acquire_on_login": works, "username.use_as_login_identifier": works, "username.min_length": works,
		"username.max_length":  works,
		"mfa.acquire_on_login": works, "mfa.acquire_on_registration": works, "mfa.device_trust_cookie_name": works,
		"mfa.device_trust_duration": works, "mfa.device_trust_max_users_per_device": refused,
		"mfa.device_trust_policy": works, "mfa.enabled": works, "mfa.optional": works,
		"mfa.security_keys.attestation_preference": works, "mfa.security_keys.authenticator_attachment": works,
		"mfa.security_keys.enabled": works, "mfa.security_keys.limit": works, "mfa.security_keys.user_verification": works,
		"mfa.totp.enabled":                     works,
		"privacy.show_account_existence_hints": works, "privacy.only_show_actual_login_methods": works,
		"flow_locker.enabled": same, "flow_locker.store": refused, "log.log_health_and_metrics": same,
		"webhooks.enabled": works, "webhooks.allow_time_expiration": works, "webhooks.hooks": works,
		"saml.enabled": refused,
	}
	data, err := os.ReadFile("testdata/hanko-config-default.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	leaves := map[string]bool{}
	var flatten func(m map[string]any, path string)
	flatten = func(m map[string]any, path string) {
		for k, v := range m {
			p := join(path, k)
			if sub, ok := v.(map[string]any); ok && p != "session.jwt_template.claims" {
				flatten(sub, p)
				continue
			}
			leaves[p] = true
		}
	}
	flatten(doc["hanko"].(map[string]any), "")

	_, warnings, err := loadYAML(t, string(data), nil, true)
	var ps Problems
	if err != nil && !asProblems(err, &ps) {
		t.Fatal(err)
	}
	// The key a message names: the whole section for the keys Hanko
	// splits into parts (smtp, database) that make one Latchkey value.
	named := func(key string) string {
		for _, section := range []string{"hanko.smtp.", "hanko.database."} {
			if strings.HasPrefix(key, section) {
				return strings.TrimSuffix(section, ".")
			}
		}
		return key
	}
	var keys []string
	for k := range leaves {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := "hanko." + k
		outcome, ok := want[k]
		if !ok {
			t.Errorf("%s: no expected outcome in the test", key)
			continue
		}
		var problem, warning string
		for _, p := range ps {
			if p.Key == named(key) || strings.HasPrefix(p.Key, key+"[") {
				problem = p.Message
			}
		}
		for _, w := range warnings {
			if w.Key == named(key) {
				warning = w.Message
			}
		}
		switch outcome {
		case works:
			if problem != "" || warning != "" {
				t.Errorf("%s should work as is; got problem %q, warning %q", key, problem, warning)
			}
		case same:
			if problem != "" || !strings.Contains(warning, "Latchkey always does") {
				t.Errorf("%s should load with a warning that Latchkey does this anyway; got problem %q, warning %q", key, problem, warning)
			}
		case refused:
			if problem == "" || len(problem) < 20 {
				t.Errorf("%s should be refused with a reason; got problem %q, warning %q", key, problem, warning)
			}
		default:
			if problem != "" || !strings.Contains(warning, "read as "+outcome) {
				t.Errorf("%s should be read as %s with a warning; got problem %q, warning %q", key, outcome, problem, warning)
			}
		}
	}
	for k := range want {
		if !leaves[k] {
			t.Errorf("hanko.%s is expected but not in the file", k)
		}
	}

	// Without the refused keys the file loads, and the renamed ones land
	// where Latchkey reads them.
	h := doc["hanko"].(map[string]any)
	for _, k := range keys {
		if want[k] == refused {
			deletePath(h, k)
		}
	}
	clean, err := yamlv3.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := mustLoad(t, string(clean), nil, true)
	checks := []struct {
		name      string
		got, want any
	}{
		{"dsn", c.DSN, "postgres://hanko:hanko@localhost:5432/hanko"},
		{"smtp", c.Courier.SMTP.ConnectionURI, "smtps://localhost:465/"},
		{"from", c.Courier.SMTP.FromAddress, "noreply@hanko.io"},
		{"public port", c.Serve.Public.Port, 8000},
		{"admin host", c.Serve.Admin.Host, "127.0.0.1"},
		{"rp id", c.SelfService.Methods.Passkey.Config.RP.ID, "localhost"},
		{"passcode ttl", c.Hanko.Passcode.TTL, 5 * time.Minute},
		{"issuer", c.Session.JWT.Issuer, "https://hanko.example.com"},
		{"product name", c.UI.ProductName, "Hanko Authentication Service"},
		{"audit retention", c.Cleanup.Retention.AuditLogs, 720 * time.Hour},
		{"email limit", c.Hanko.Email.Limit, 5},
		{"cors", strings.Join(c.Hanko.CORS.AllowOrigins, ","), "http://localhost:8888"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func asProblems(err error, ps *Problems) bool {
	p, ok := err.(Problems)
	*ps = p
	return ok
}

func deletePath(m map[string]any, path string) {
	head, rest, more := strings.Cut(path, ".")
	if !more {
		delete(m, head)
		return
	}
	if sub, ok := m[head].(map[string]any); ok {
		deletePath(sub, rest)
		if len(sub) == 0 {
			delete(m, head)
		}
	}
}
