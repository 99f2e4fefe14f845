package config

import (
	"strings"
	"sync"
)

// kratosKeys lists the key paths of Ory Kratos' configuration (derived from
// its embedx/config.schema.json, v1.x, plus keys newer releases added).
// A "*" segment is a name the user picks, "[]" a list item, and a trailing
// ".**" covers a whole subtree. Keys Latchkey implements are listed too:
// Load checks Latchkey's own keys first, so only the others produce the
// "Kratos setting Latchkey does not implement" warning.
var kratosKeys = []string{
	"version",
	"dsn",
	"dev",
	"help",
	"sqa-opt-out",
	"watch-courier",
	"expose-metrics-port",
	"config",
	"organizations",
	"tracing.**",
	"feature_flags.**",
	"oauth2_provider.url",
	"oauth2_provider.headers",
	"oauth2_provider.override_return_to",
	"preview.default_read_consistency_level",
	"clients.http.disallow_private_ip_ranges",
	"clients.http.private_ip_exception_urls",
	"clients.web_hook.header_allowlist",
	"database.cleanup.batch_size",
	"database.cleanup.sleep.tables",
	"database.cleanup.older_than",
	"ciphers.algorithm",
	"cookies.domain",
	"cookies.path",
	"cookies.same_site",
	"security.account_enumeration.mitigate",
	"enterprise.**",

	"serve.public.base_url",
	"serve.public.host",
	"serve.public.port",
	"serve.public.socket.owner",
	"serve.public.socket.group",
	"serve.public.socket.mode",
	"serve.public.tls.key.path",
	"serve.public.tls.key.base64",
	"serve.public.tls.cert.path",
	"serve.public.tls.cert.base64",
	"serve.public.request_log.disable_for_health",
	"serve.public.cors.enabled",
	"serve.public.cors.allowed_origins",
	"serve.public.cors.allowed_methods",
	"serve.public.cors.allowed_headers",
	"serve.public.cors.exposed_headers",
	"serve.public.cors.allow_credentials",
	"serve.public.cors.options_passthrough",
	"serve.public.cors.max_age",
	"serve.public.cors.debug",
	"serve.admin.base_url",
	"serve.admin.host",
	"serve.admin.port",
	"serve.admin.socket.owner",
	"serve.admin.socket.group",
	"serve.admin.socket.mode",
	"serve.admin.tls.key.path",
	"serve.admin.tls.key.base64",
	"serve.admin.tls.cert.path",
	"serve.admin.tls.cert.base64",
	"serve.admin.request_log.disable_for_health",

	"log.level",
	"log.format",
	"log.leak_sensitive_values",
	"log.redaction_text",

	"identity.default_schema_id",
	"identity.schemas",
	"identity.schemas[].id",
	"identity.schemas[].url",

	"secrets.default",
	"secrets.cookie",
	"secrets.cipher",

	"hashers.algorithm",
	"hashers.argon2.memory",
	"hashers.argon2.iterations",
	"hashers.argon2.parallelism",
	"hashers.argon2.salt_length",
	"hashers.argon2.key_length",
	"hashers.argon2.expected_duration",
	"hashers.argon2.expected_deviation",
	"hashers.argon2.dedicated_memory",
	"hashers.bcrypt.cost",

	"session.lifespan",
	"session.earliest_possible_extend",
	"session.cookie.domain",
	"session.cookie.name",
	"session.cookie.persistent",
	"session.cookie.path",
	"session.cookie.same_site",
	"session.whoami.required_aal",
	"session.whoami.tokenizer.templates.*.ttl",
	"session.whoami.tokenizer.templates.*.claims_mapper_url",
	"session.whoami.tokenizer.templates.*.jwks_url",
	"session.whoami.tokenizer.templates.*.subject_source",

	"courier.template_override_path",
	"courier.message_retries",
	"courier.delivery_strategy",
	"courier.worker.pull_count",
	"courier.worker.pull_wait",
	"courier.smtp.connection_uri",
	"courier.smtp.client_cert_path",
	"courier.smtp.client_key_path",
	"courier.smtp.from_address",
	"courier.smtp.from_name",
	"courier.smtp.headers",
	"courier.smtp.local_name",
	"courier.http.request_config.**",
	"courier.channels",
	"courier.channels[].id",
	"courier.channels[].type",
	"courier.channels[].request_config.**",
	"courier.channels[].smtp_config.**",
	"courier.sms.**",
	"courier.templates.**",

	"selfservice.default_browser_return_url",
	"selfservice.allowed_return_urls",
	"selfservice.methods.profile.enabled",
	"selfservice.methods.link.enabled",
	"selfservice.methods.link.config.base_url",
	"selfservice.methods.link.config.lifespan",
	"selfservice.methods.code.enabled",
	"selfservice.methods.code.passwordless_enabled",
	"selfservice.methods.code.passwordless_login_fallback_enabled",
	"selfservice.methods.code.mfa_enabled",
	"selfservice.methods.code.config.lifespan",
	"selfservice.methods.code.config.max_submissions",
	"selfservice.methods.code.config.missing_credential_fallback_enabled",
	"selfservice.methods.password.enabled",
	"selfservice.methods.password.config.haveibeenpwned_host",
	"selfservice.methods.password.config.haveibeenpwned_enabled",
	"selfservice.methods.password.config.max_breaches",
	"selfservice.methods.password.config.ignore_network_errors",
	"selfservice.methods.password.config.min_password_length",
	"selfservice.methods.password.config.identifier_similarity_check_enabled",
	"selfservice.methods.password.config.migrate_hook.**",
	"selfservice.methods.totp.enabled",
	"selfservice.methods.totp.config.issuer",
	"selfservice.methods.lookup_secret.enabled",
	"selfservice.methods.webauthn.enabled",
	"selfservice.methods.webauthn.config.passwordless",
	"selfservice.methods.webauthn.config.rp.display_name",
	"selfservice.methods.webauthn.config.rp.id",
	"selfservice.methods.webauthn.config.rp.origin",
	"selfservice.methods.webauthn.config.rp.origins",
	"selfservice.methods.webauthn.config.rp.icon",
	"selfservice.methods.passkey.enabled",
	"selfservice.methods.passkey.config.rp.display_name",
	"selfservice.methods.passkey.config.rp.id",
	"selfservice.methods.passkey.config.rp.origins",
	"selfservice.methods.oidc.enabled",
	"selfservice.methods.oidc.config.base_redirect_uri",
	"selfservice.methods.oidc.config.providers",
	"selfservice.methods.oidc.config.providers[].id",
	"selfservice.methods.oidc.config.providers[].provider",
	"selfservice.methods.oidc.config.providers[].label",
	"selfservice.methods.oidc.config.providers[].client_id",
	"selfservice.methods.oidc.config.providers[].client_secret",
	"selfservice.methods.oidc.config.providers[].issuer_url",
	"selfservice.methods.oidc.config.providers[].auth_url",
	"selfservice.methods.oidc.config.providers[].token_url",
	"selfservice.methods.oidc.config.providers[].mapper_url",
	"selfservice.methods.oidc.config.providers[].scope",
	"selfservice.methods.oidc.config.providers[].microsoft_tenant",
	"selfservice.methods.oidc.config.providers[].subject_source",
	"selfservice.methods.oidc.config.providers[].apple_team_id",
	"selfservice.methods.oidc.config.providers[].apple_private_key_id",
	"selfservice.methods.oidc.config.providers[].apple_private_key",
	"selfservice.methods.oidc.config.providers[].requested_claims",
	"selfservice.methods.oidc.config.providers[].organization_id",
	"selfservice.methods.oidc.config.providers[].pkce",
	"selfservice.methods.oidc.config.providers[].additional_id_token_audiences",
	"selfservice.methods.oidc.config.providers[].claims_source",
	"selfservice.methods.oidc.config.providers[].fedcm_config_url",
	"selfservice.methods.oidc.config.providers[].net_id_token_origin_header",
	"selfservice.methods.oidc.config.providers[].update_identity_on_login",
	"selfservice.methods.saml.**",

	"selfservice.flows.error.ui_url",
	"selfservice.flows.logout.after.default_browser_return_url",
	"selfservice.flows.login.ui_url",
	"selfservice.flows.login.lifespan",
	"selfservice.flows.login.style",
	"selfservice.flows.login.before.hooks",
	"selfservice.flows.login.after.**",
	"selfservice.flows.registration.enabled",
	"selfservice.flows.registration.login_hints",
	"selfservice.flows.registration.enable_legacy_one_step",
	"selfservice.flows.registration.ui_url",
	"selfservice.flows.registration.lifespan",
	"selfservice.flows.registration.style",
	"selfservice.flows.registration.before.hooks",
	"selfservice.flows.registration.after.**",
	"selfservice.flows.settings.ui_url",
	"selfservice.flows.settings.lifespan",
	"selfservice.flows.settings.privileged_session_max_age",
	"selfservice.flows.settings.required_aal",
	"selfservice.flows.settings.before.hooks",
	"selfservice.flows.settings.after.**",
	"selfservice.flows.recovery.enabled",
	"selfservice.flows.recovery.ui_url",
	"selfservice.flows.recovery.lifespan",
	"selfservice.flows.recovery.use",
	"selfservice.flows.recovery.notify_unknown_recipients",
	"selfservice.flows.recovery.before.hooks",
	"selfservice.flows.recovery.after.**",
	"selfservice.flows.verification.enabled",
	"selfservice.flows.verification.ui_url",
	"selfservice.flows.verification.lifespan",
	"selfservice.flows.verification.use",
	"selfservice.flows.verification.notify_unknown_recipients",
	"selfservice.flows.verification.before.hooks",
	"selfservice.flows.verification.after.**",
}

// kratosHints points Kratos-only keys at the Latchkey setting that does the
// same job, where there is one.
var kratosHints = map[string]string{
	"dev":                                 "pass --dev on the command line instead",
	"cookies.domain":                      "use session.cookie.domain",
	"cookies.path":                        "use session.cookie.path",
	"cookies.same_site":                   "use session.cookie.same_site",
	"courier.sms":                         "use courier.channels with id sms",
	"serve.public.tls":                    "terminate TLS in a reverse proxy",
	"serve.admin.tls":                     "terminate TLS in a reverse proxy",
	"ciphers.algorithm":                   "Latchkey always encrypts with secrets.cipher",
	"tracing":                             "Latchkey exports traces over OTLP/HTTP when the standard OTEL_* environment variables (OTEL_EXPORTER_OTLP_ENDPOINT, …) are set",
	"log.redaction_text":                  "Latchkey writes no sensitive values to its log, so there is nothing to redact",
	"log.leak_sensitive_values":           "Latchkey writes no sensitive values to its log (only the --dev courier log shows codes, so a developer can use them)",
	"secrets.cookie":                      "Latchkey signs no cookie: session and anti-CSRF cookies carry random tokens checked against the store; secrets.default keys everything else",
	"hashers.argon2.expected_duration":    "only Kratos' hashers argon2 calibrate command reads it; set hashers.argon2.memory and iterations directly",
	"hashers.argon2.expected_deviation":   "only Kratos' hashers argon2 calibrate command reads it; set hashers.argon2.memory and iterations directly",
	"hashers.argon2.dedicated_memory":     "only Kratos' hashers argon2 calibrate command reads it; set hashers.argon2.memory directly",
	"selfservice.methods.password.config": "Latchkey does not check passwords against Have I Been Pwned",
}

// kratosPaths returns kratosKeys for typo suggestions.
func kratosPaths() []string { return kratosKeys }

type kratosMatch int

const (
	kratosNone   kratosMatch = iota
	kratosKey                // the path is a Kratos key (or inside a Kratos subtree)
	kratosPrefix             // the path is a section of Kratos keys
)

// kratosSplit holds kratosKeys split into segments, built once.
var kratosSplit = sync.OnceValue(func() [][]string {
	out := make([][]string, len(kratosKeys))
	for i, k := range kratosKeys {
		out[i] = strings.Split(k, ".")
	}
	return out
})

// matchKratos reports how the key path pattern relates to Kratos' keys.
func matchKratos(pattern string) kratosMatch {
	segs := strings.Split(pattern, ".")
	best := kratosNone
	for _, k := range kratosSplit() {
		switch matchSegs(segs, k) {
		case kratosKey:
			return kratosKey
		case kratosPrefix:
			best = kratosPrefix
		}
	}
	return best
}

func matchSegs(segs, k []string) kratosMatch {
	for i, s := range segs {
		if i >= len(k) {
			return kratosNone
		}
		if k[i] == "**" {
			return kratosKey
		}
		if k[i] != "*" && k[i] != s {
			return kratosNone
		}
	}
	switch {
	case len(k) == len(segs):
		return kratosKey
	case len(k) == len(segs)+1 && k[len(segs)] == "**":
		return kratosKey
	default:
		return kratosPrefix
	}
}

// kratosHint returns advice for a Kratos-only key path, or "".
func kratosHint(pattern string) string {
	for p := pattern; p != ""; {
		if h, ok := kratosHints[p]; ok {
			return h
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}
