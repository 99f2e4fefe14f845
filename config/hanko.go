package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Hanko configures the Hanko face: its Flow API (/login, /registration,
// /profile), its public API (/me, /sessions/validate, /logout, JWKS) and its
// admin API (users, e-mails, credentials, sessions, audit logs, webhooks).
// Key names and defaults follow Hanko's own configuration
// (backend/config/config_default.yaml), so a Hanko deployment maps over key
// by key. Signing keys, the JWT issuer and audience are shared with the
// Kratos face under session.jwt.
type Hanko struct {
	Enabled     bool             `koanf:"enabled" doc:"Serve the Hanko face (Flow, public and admin API)."`
	AdminPrefix string           `koanf:"admin_prefix" doc:"Path prefix of the Hanko admin API on the admin listener (e.g. /hanko); empty serves /users, /webhooks, /audit_logs … at the root."`
	Account     HankoAccount     `koanf:"account"`
	Password    HankoPassword    `koanf:"password"`
	Email       HankoEmail       `koanf:"email"`
	Passcode    HankoPasscode    `koanf:"passcode"`
	Passkey     HankoPasskey     `koanf:"passkey"`
	Username    HankoUsername    `koanf:"username"`
	Session     HankoSession     `koanf:"session"`
	CORS        HankoCORS        `koanf:"cors"`
	RateLimiter HankoRateLimiter `koanf:"rate_limiter"`
	Webhooks    HankoWebhooks    `koanf:"webhooks"`
	Privacy     HankoPrivacy     `koanf:"privacy"`
	ThirdParty  HankoThirdParty  `koanf:"third_party"`
	AuditLog    HankoAuditLog    `koanf:"audit_log"`
	MFA         HankoMFA         `koanf:"mfa"`
}

// HankoAccount configures what users may do with their accounts.
type HankoAccount struct {
	AllowSignup   bool `koanf:"allow_signup" doc:"Users may register through POST /registration."`
	AllowDeletion bool `koanf:"allow_deletion" doc:"Users may delete their own account through the profile flow (account_delete)."`
}

// HankoPassword configures password credentials in the Hanko flows.
type HankoPassword struct {
	Enabled               bool   `koanf:"enabled" doc:"Passwords can be used to log in and be set in the flows."`
	Optional              bool   `koanf:"optional" doc:"A user may have no password (they can delete it, and skip it at registration)."`
	MinLength             int    `koanf:"min_length" doc:"Minimum password length in characters."`
	AcquireOnRegistration string `koanf:"acquire_on_registration" doc:"When registration asks for a password: always, conditional (when no passkey is created) or never."`
	AcquireOnLogin        string `koanf:"acquire_on_login" doc:"When login asks a user without a password for one: always, conditional or never."`
	Recovery              bool   `koanf:"recovery" doc:"Offer password recovery by passcode (continue_to_passcode_confirmation_recovery)."`
}

// HankoEmail configures e-mail addresses of Hanko users.
type HankoEmail struct {
	Enabled               bool `koanf:"enabled" doc:"Users have e-mail addresses."`
	Optional              bool `koanf:"optional" doc:"A user may have no e-mail address (needs username.enabled)."`
	AcquireOnRegistration bool `koanf:"acquire_on_registration" doc:"Registration asks for an e-mail address."`
	AcquireOnLogin        bool `koanf:"acquire_on_login" doc:"Login asks users without an e-mail address for one (onboarding_email)."`
	RequireVerification   bool `koanf:"require_verification" doc:"New e-mail addresses must be verified by passcode, at registration and in the profile."`
	Limit                 int  `koanf:"limit" doc:"Maximum number of e-mail addresses per user."`
	MaxLength             int  `koanf:"max_length" doc:"Maximum length of an e-mail address."`
	UseAsLoginIdentifier  bool `koanf:"use_as_login_identifier" doc:"Users log in with their e-mail address."`
	UseForAuthentication  bool `koanf:"use_for_authentication" doc:"Passcodes sent by e-mail can be used to log in (passcode login)."`
	// Delivery is Hanko's email_delivery.enabled.
	Delivery bool `koanf:"delivery" doc:"Latchkey sends passcode e-mails itself through the courier; when false they go out only as email.send webhooks (bring your own mailer)."`
}

// HankoPasscode configures the one-time codes mailed by the Hanko flows.
type HankoPasscode struct {
	TTL         time.Duration `koanf:"ttl" doc:"How long a passcode is valid."`
	MaxAttempts int           `koanf:"max_attempts" doc:"Wrong submissions a passcode accepts before it is void (passcode_max_attempts_reached)."`
}

// HankoPasskey configures passkeys in the Hanko flows. The relying party is
// the one of selfservice.methods.passkey.config.rp.
type HankoPasskey struct {
	Enabled               bool   `koanf:"enabled" doc:"Offer passkeys in the Hanko flows: login (button and autofill), onboarding after registration and login, and the profile. Off by itself when no usable relying party is configured (see selfservice.methods.passkey.config.rp.id)."`
	AcquireOnRegistration string `koanf:"acquire_on_registration" doc:"When registration offers to create a passkey: always, conditional (when no password is set) or never."`
	AcquireOnLogin        string `koanf:"acquire_on_login" doc:"When login offers a user without a passkey to create one: always, conditional (when the user has no password) or never."`
	Limit                 int    `koanf:"limit" doc:"Maximum number of passkeys per user; creating more is refused."`
	UserVerification      string `koanf:"user_verification" doc:"WebAuthn user verification for passkeys: required, preferred or discouraged."`
	AttestationPreference string `koanf:"attestation_preference" doc:"WebAuthn attestation conveyance at passkey creation: none, indirect, direct or enterprise."`
}

// HankoUsername configures usernames of Hanko users.
type HankoUsername struct {
	Enabled               bool `koanf:"enabled" doc:"Users may have a username."`
	Optional              bool `koanf:"optional" doc:"A user may have no username."`
	AcquireOnRegistration bool `koanf:"acquire_on_registration" doc:"Registration asks for a username."`
	AcquireOnLogin        bool `koanf:"acquire_on_login" doc:"Login asks users without a username for one (onboarding_username)."`
	UseAsLoginIdentifier  bool `koanf:"use_as_login_identifier" doc:"Users log in with their username."`
	MinLength             int  `koanf:"min_length" doc:"Minimum username length."`
	MaxLength             int  `koanf:"max_length" doc:"Maximum username length."`
}

// HankoSession configures the Hanko session token and its cookie.
type HankoSession struct {
	Lifespan              time.Duration    `koanf:"lifespan" doc:"How long a Hanko session (and its JWT) lasts."`
	EnableAuthTokenHeader bool             `koanf:"enable_auth_token_header" doc:"Return the session JWT in the X-Auth-Token header instead of a cookie (cross-site setups)."`
	Cookie                HankoCookie      `koanf:"cookie"`
	JWTTemplate           HankoJWTTemplate `koanf:"jwt_template"`
}

// HankoCookie configures the hanko session cookie.
type HankoCookie struct {
	Name      string `koanf:"name" doc:"Name of the session cookie."`
	Domain    string `koanf:"domain" doc:"Cookie Domain attribute; empty means the host of the request."`
	HTTPOnly  bool   `koanf:"http_only" doc:"Cookie HttpOnly attribute."`
	SameSite  string `koanf:"same_site" doc:"Cookie SameSite attribute: strict, lax or none (none needs secure)."`
	Secure    bool   `koanf:"secure" doc:"Cookie Secure attribute (HTTPS only)."`
	Retention string `koanf:"retention" doc:"Cookie lifetime: persistent (Max-Age of the session lifespan), session (a browser-session cookie) or prompt (the user chooses with remember_me)."`
}

// HankoJWTTemplate adds custom claims to Hanko session JWTs.
type HankoJWTTemplate struct {
	Claims map[string]any `koanf:"claims" doc:"Extra claims put in every session JWT; string values may use Go templates over {{.User}} (e.g. \"{{.User.Email.Address}}\"). Reserved claims are refused."`
}

// HankoCORS configures cross-origin access to the Hanko public API.
type HankoCORS struct {
	AllowOrigins                []string `koanf:"allow_origins" doc:"Origins allowed to call the Hanko public API with credentials (exact origins or one * wildcard)."`
	UnsafeWildcardOriginAllowed bool     `koanf:"unsafe_wildcard_origin_allowed" doc:"Allow \"*\" in allow_origins (reflects any origin with credentials; unsafe)."`
}

// HankoRateLimiter configures the Hanko face's rate limits.
type HankoRateLimiter struct {
	Enabled        bool           `koanf:"enabled" doc:"Apply Hanko's own limits below (passcode mails per address and client IP, password attempts per user and client IP, as Hanko keys them) on top of the shared attempt policy (ratelimit.attempts, ratelimit.send), which applies to both faces whatever this says."`
	PasscodeLimits HankoRateLimit `koanf:"passcode_limits" doc:"Passcode mails per (address, client IP), counted in the shared limiter across flows and replicas (Hanko's passcode limit)."`
	PasswordLimits HankoRateLimit `koanf:"password_limits" doc:"Password attempts, right or wrong, per (user, client IP) on the Hanko face (Hanko's password limit)."`
}

// HankoRateLimit is a limit of Tokens events per Interval.
type HankoRateLimit struct {
	Tokens   int           `koanf:"tokens" doc:"Events allowed per interval."`
	Interval time.Duration `koanf:"interval" doc:"Length of the interval."`
}

// HankoWebhooks configures the outgoing Hanko webhooks.
type HankoWebhooks struct {
	Enabled             bool           `koanf:"enabled" doc:"Send webhook events."`
	AllowTimeExpiration bool           `koanf:"allow_time_expiration" doc:"Webhooks created through the admin API expire 30 days after their last update."`
	MaxFailures         int            `koanf:"max_failures" doc:"Consecutive failed delivery attempts after which a webhook created through the admin API is disabled; a successful delivery resets the count."`
	MaxAttempts         int            `koanf:"max_attempts" doc:"Delivery attempts of one event to one webhook before it is given up, retried 10 s after the first failure, doubling up to 1 h, each wait jittered to between half and all of it; the queue is in the database, so retries go on after a restart (Hanko itself tries an event once, from memory). Kratos web_hook calls (response.ignore) share the queue but follow Kratos' policy: see the web_hook hooks' config."`
	Timeout             time.Duration  `koanf:"timeout" doc:"Timeout of one delivery request; it also bounds a queued Kratos web_hook call (response.ignore), whose own timeout is 10 s."`
	Hooks               []HankoWebhook `koanf:"hooks" doc:"Webhooks from the configuration, as a list of {callback, events}."`
}

// HankoWebhook is one configured webhook.
type HankoWebhook struct {
	Callback string   `koanf:"callback" doc:"URL the events are POSTed to."`
	Events   []string `koanf:"events" doc:"Events (or event prefixes such as user.update) to send."`
}

// HankoPrivacy configures what the flows reveal.
type HankoPrivacy struct {
	ShowAccountExistenceHints  bool `koanf:"show_account_existence_hints" doc:"Tell users when an e-mail address or username is unknown or taken (reveals which accounts exist)."`
	OnlyShowActualLoginMethods bool `koanf:"only_show_actual_login_methods" doc:"Offer only the login methods the user actually has (reveals which credentials exist)."`
}

// HankoAuditLog configures the audit log.
type HankoAuditLog struct {
	Enabled   bool `koanf:"enabled" doc:"Record logins, failed logins, registrations and credential changes in the audit log."`
	MaskEmail bool `koanf:"mask_email" doc:"Store actor e-mail addresses masked (j***@example.com)."`
}

// HankoEvents lists every webhook event name Hanko defines, in Hanko's order.
var HankoEvents = []string{
	"user", "user.login", "user.create", "user.delete",
	"user.update", "user.update.email", "user.update.email.create", "user.update.email.delete", "user.update.email.primary",
	"user.update.username", "user.update.username.create", "user.update.username.delete", "user.update.username.update",
	"email.send",
	"session", "session.create", "session.delete",
}

// IsHankoEvent reports whether e is one of HankoEvents.
func IsHankoEvent(e string) bool {
	for _, k := range HankoEvents {
		if e == k {
			return true
		}
	}
	return false
}

// HankoThirdParty is Hanko's third_party section. Its providers land in the
// one provider list (selfservice.methods.oidc.config.providers) that both
// faces use: a built-in one under its name as id, a custom one under its
// key (offered by the Hanko face as custom_<key>).
type HankoThirdParty struct {
	RedirectURL         string                         `koanf:"redirect_url" doc:"The Hanko callback registered at providers." default:"<serve.public.base_url>/thirdparty/callback"`
	ErrorRedirectURL    string                         `koanf:"error_redirect_url" doc:"Where a failed third-party sign-in is sent, with ?error=…&error_description=… (no trailing slash)."`
	DefaultRedirectURL  string                         `koanf:"default_redirect_url" doc:"Where a third-party sign-in goes back to when thirdparty_oauth names no redirect_to (no trailing slash)."`
	AllowedRedirectURLs []string                       `koanf:"allowed_redirect_urls" doc:"URLs thirdparty_oauth's redirect_to may name; * matches within one host label or path segment, ** across them."`
	Providers           map[string]HankoProvider       `koanf:"providers" doc:"Built-in providers by name: apple, discord, facebook, github, google, linkedin, microsoft."`
	CustomProviders     map[string]HankoCustomProvider `koanf:"custom_providers" doc:"OpenID Connect providers found by discovery, by key (letters, digits, - and _)."`
}

// HankoProvider is a built-in third-party provider.
type HankoProvider struct {
	Enabled      bool   `koanf:"enabled" doc:"Offer the provider."`
	ClientID     string `koanf:"client_id" doc:"OAuth2 client id."`
	Secret       string `koanf:"secret" doc:"OAuth2 client secret." secret:"true"`
	AllowLinking bool   `koanf:"allow_linking" doc:"Link a sign-in to the account whose verified address equals the provider's verified e-mail (never on an unverified one)."`
}

// HankoCustomProvider is an OpenID Connect provider of the operator's.
type HankoCustomProvider struct {
	Enabled      bool     `koanf:"enabled" doc:"Offer the provider."`
	DisplayName  string   `koanf:"display_name" doc:"Name shown on the button."`
	Issuer       string   `koanf:"issuer" doc:"Issuer URL (OpenID Connect discovery)."`
	ClientID     string   `koanf:"client_id" doc:"OAuth2 client id."`
	Secret       string   `koanf:"secret" doc:"OAuth2 client secret." secret:"true"`
	Scopes       []string `koanf:"scopes" doc:"Scopes requested (openid is always added)."`
	AllowLinking bool     `koanf:"allow_linking" doc:"As for built-in providers."`
}

// hankoBuiltinScopes are the scopes Hanko asks built-in providers for.
var hankoBuiltinScopes = map[string][]string{
	"apple": {"name", "email"}, "discord": {"identify", "email"}, "facebook": {"email", "public_profile"},
	"github": {"user:email"}, "google": {"email", "profile"}, "linkedin": {"openid", "profile", "email"},
	"microsoft": {"email", "profile"},
}

// AllowLinking reports whether the provider with the id (as in
// selfservice.methods.oidc.config.providers) allows Hanko's linking.
func (t HankoThirdParty) AllowLinking(id string) bool {
	if p, ok := t.Providers[id]; ok && p.Enabled {
		return p.AllowLinking
	}
	if p, ok := t.CustomProviders[id]; ok && p.Enabled {
		return p.AllowLinking
	}
	return false
}

// Offered reports whether a Hanko provider is enabled.
func (t HankoThirdParty) Offered() bool {
	for _, p := range t.Providers {
		if p.Enabled {
			return true
		}
	}
	for _, p := range t.CustomProviders {
		if p.Enabled {
			return true
		}
	}
	return false
}

func (h *Hanko) resolve(c *Config, _ *[]Warning) {
	t := &h.ThirdParty
	if t.RedirectURL == "" && c.Serve.Public.BaseURL != "" {
		t.RedirectURL = strings.TrimRight(c.Serve.Public.BaseURL, "/") + "/thirdparty/callback"
	}
	list := &c.SelfService.Methods.OIDC.Config.Providers
	taken := map[string]bool{}
	for _, p := range *list {
		taken[p.ID] = true
	}
	for _, name := range sortedKeys(t.Providers) {
		p := t.Providers[name]
		if !p.Enabled || taken[name] {
			continue // a duplicate is reported by validate
		}
		op := OIDCProvider{ID: name, Provider: name, ClientID: p.ClientID, ClientSecret: p.Secret, PKCE: "auto",
			Scope: hankoBuiltinScopes[name], fromHanko: "hanko.third_party.providers." + name}
		if name == "microsoft" {
			op.MicrosoftTenant = "common"
		}
		*list = append(*list, op)
	}
	for _, key := range sortedKeys(t.CustomProviders) {
		p := t.CustomProviders[key]
		if !p.Enabled || taken[key] {
			continue
		}
		*list = append(*list, OIDCProvider{ID: key, Provider: "generic", Label: p.DisplayName, ClientID: p.ClientID,
			ClientSecret: p.Secret, IssuerURL: p.Issuer, Scope: p.Scopes, PKCE: "auto", fromHanko: "hanko.third_party.custom_providers." + key})
	}
}

func (t HankoThirdParty) validate(c *Config, p *Problems) {
	const k = "hanko.third_party."
	checkHTTPURL(p, k+"redirect_url", t.RedirectURL, false)
	for key, v := range map[string]string{k + "error_redirect_url": t.ErrorRedirectURL, k + "default_redirect_url": t.DefaultRedirectURL} {
		checkHTTPURL(p, key, v, false)
		if strings.HasSuffix(v, "/") {
			p.add(key, "%q must not end with \"/\" (as in Hanko)", v)
		}
	}
	for i, u := range t.AllowedRedirectURLs {
		if strings.TrimSpace(u) == "" {
			p.add(fmt.Sprintf(k+"allowed_redirect_urls[%d]", i), "is empty")
		}
	}
	if t.Offered() && t.ErrorRedirectURL == "" {
		p.add(k+"error_redirect_url", "is required when a third-party provider is enabled (failed sign-ins are sent there)")
	}
	if t.Offered() && len(t.AllowedRedirectURLs) == 0 {
		p.add(k+"allowed_redirect_urls", "is required when a third-party provider is enabled (thirdparty_oauth's redirect_to must match one)")
	}
	own := map[string]bool{}
	for name, pr := range t.Providers {
		key := k + "providers." + name
		if _, ok := hankoBuiltinScopes[name]; !ok {
			p.add(key, "%q is not one of apple, discord, facebook, github, google, linkedin, microsoft; use custom_providers for others", name)
			continue
		}
		if !pr.Enabled {
			continue
		}
		own[name] = true
		if pr.ClientID == "" {
			p.add(key+".client_id", "is required")
		}
		if pr.Secret == "" {
			p.add(key+".secret", "is required")
		}
	}
	for name, pr := range t.CustomProviders {
		key := k + "custom_providers." + name
		if !validProviderKey(name) {
			p.add(key, "%q may hold only letters, digits, - and _", name)
		}
		if !pr.Enabled {
			continue
		}
		if own[name] {
			p.add(key, "%q is also a built-in provider's name; pick another key", name)
		}
		own[name] = true
		checkHTTPURL(p, key+".issuer", pr.Issuer, true)
		if pr.ClientID == "" {
			p.add(key+".client_id", "is required")
		}
		if pr.Secret == "" {
			p.add(key+".secret", "is required")
		}
	}
	for i, op := range c.SelfService.Methods.OIDC.Config.Providers {
		if op.fromHanko == "" && own[op.ID] {
			p.add(k+"providers", "provider %q is also selfservice.methods.oidc.config.providers[%d]; configure it once (both faces use that list)", op.ID, i)
		}
	}
}

func validProviderKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (h *Hanko) setDefaults(dev bool) {
	h.Enabled = true
	h.Account = HankoAccount{AllowSignup: true}
	h.Password = HankoPassword{Enabled: true, Optional: true, MinLength: 8, AcquireOnRegistration: "always",
		AcquireOnLogin: "never", Recovery: true}
	h.Email = HankoEmail{Enabled: true, AcquireOnRegistration: true, AcquireOnLogin: false, RequireVerification: true,
		Limit: 5, MaxLength: 100, UseAsLoginIdentifier: true, UseForAuthentication: true, Delivery: true}
	h.Passcode = HankoPasscode{TTL: 300 * time.Second, MaxAttempts: 3}
	h.Passkey = HankoPasskey{Enabled: true, AcquireOnRegistration: "always", AcquireOnLogin: "always", Limit: 10,
		UserVerification: "preferred", AttestationPreference: "direct"}
	h.Username = HankoUsername{Enabled: false, Optional: true, MinLength: 3, MaxLength: 32}
	h.Session = HankoSession{Lifespan: 12 * time.Hour,
		Cookie: HankoCookie{Name: "hanko", HTTPOnly: true, SameSite: "strict", Secure: !dev, Retention: "persistent"}}
	h.RateLimiter = HankoRateLimiter{Enabled: true,
		PasscodeLimits: HankoRateLimit{Tokens: 3, Interval: time.Minute},
		PasswordLimits: HankoRateLimit{Tokens: 5, Interval: time.Minute}}
	h.Webhooks = HankoWebhooks{Enabled: true, AllowTimeExpiration: false, MaxFailures: 5, MaxAttempts: 5, Timeout: 10 * time.Second}
	h.AuditLog = HankoAuditLog{Enabled: true}
	h.MFA.setDefaults()
}

func (h *Hanko) validate(c *Config, p *Problems) {
	h.MFA.validate(p)
	h.ThirdParty.validate(c, p)
	if h.AdminPrefix != "" && (!strings.HasPrefix(h.AdminPrefix, "/") || strings.HasSuffix(h.AdminPrefix, "/")) {
		p.add("hanko.admin_prefix", "%q must start with \"/\" and not end with one (e.g. /hanko)", h.AdminPrefix)
	}
	pw := h.Password
	if pw.MinLength < 1 || pw.MinLength > 72 {
		p.add("hanko.password.min_length", "%d must be between 1 and 72", pw.MinLength)
	}
	for key, v := range map[string]string{"hanko.password.acquire_on_registration": pw.AcquireOnRegistration,
		"hanko.password.acquire_on_login": pw.AcquireOnLogin} {
		if !oneOf(v, "always", "conditional", "never") {
			p.add(key, "%q is not one of always, conditional, never", v)
		}
	}
	pk := h.Passkey
	for key, v := range map[string]string{"hanko.passkey.acquire_on_registration": pk.AcquireOnRegistration,
		"hanko.passkey.acquire_on_login": pk.AcquireOnLogin} {
		if !oneOf(v, "always", "conditional", "never") {
			p.add(key, "%q is not one of always, conditional, never", v)
		}
	}
	if pk.Limit < 1 {
		p.add("hanko.passkey.limit", "%d must be at least 1", pk.Limit)
	}
	if !oneOf(pk.UserVerification, "required", "preferred", "discouraged") {
		p.add("hanko.passkey.user_verification", "%q is not one of required, preferred, discouraged", pk.UserVerification)
	}
	if !oneOf(pk.AttestationPreference, "none", "indirect", "direct", "enterprise") {
		p.add("hanko.passkey.attestation_preference", "%q is not one of none, indirect, direct, enterprise", pk.AttestationPreference)
	}
	if h.Email.Limit < 1 {
		p.add("hanko.email.limit", "%d must be at least 1", h.Email.Limit)
	}
	if h.Email.MaxLength < 6 || h.Email.MaxLength > 254 {
		p.add("hanko.email.max_length", "%d must be between 6 and 254", h.Email.MaxLength)
	}
	if !h.Email.Enabled && !h.Username.Enabled {
		p.add("hanko.email.enabled", "at least one of hanko.email.enabled and hanko.username.enabled must be true, or users have no identifier")
	}
	if h.Enabled && h.Account.AllowSignup && h.Email.Enabled && h.Email.AcquireOnRegistration && !h.Email.RequireVerification &&
		!h.Privacy.ShowAccountExistenceHints {
		p.add("hanko.email.require_verification", "false lets registration tell whether an address is taken (the sign-up of a "+
			"taken address cannot end in a session, a new one does), which hanko.privacy.show_account_existence_hints: false "+
			"promises not to reveal; set hanko.privacy.show_account_existence_hints: true to accept that, or keep "+
			"hanko.email.require_verification: true (or hanko.account.allow_signup: false)")
	}
	if h.Email.Optional && !h.Username.Enabled {
		p.add("hanko.email.optional", "needs hanko.username.enabled: true, or a user may end up without any identifier")
	}
	if !h.Password.Enabled && !(h.Email.Enabled && h.Email.UseForAuthentication) {
		p.add("hanko.password.enabled", "with passwords off, hanko.email.use_for_authentication (passcode login) must be on, or nobody can log in")
	}
	if h.Passcode.TTL < 10*time.Second || h.Passcode.TTL > 24*time.Hour {
		p.add("hanko.passcode.ttl", "%s must be between 10s and 24h", h.Passcode.TTL)
	}
	if h.Passcode.MaxAttempts < 1 {
		p.add("hanko.passcode.max_attempts", "%d must be at least 1", h.Passcode.MaxAttempts)
	}
	u := h.Username
	if u.MinLength < 1 || u.MaxLength < u.MinLength {
		p.add("hanko.username.min_length", "min_length %d and max_length %d must satisfy 1 <= min_length <= max_length", u.MinLength, u.MaxLength)
	}
	s := h.Session
	if s.Lifespan < time.Minute {
		p.add("hanko.session.lifespan", "%s must be at least 1m", s.Lifespan)
	}
	if !isCookieToken(s.Cookie.Name) {
		p.add("hanko.session.cookie.name", "%q is not a valid cookie name", s.Cookie.Name)
	}
	if !oneOf(strings.ToLower(s.Cookie.SameSite), "strict", "lax", "none") {
		p.add("hanko.session.cookie.same_site", "%q is not one of strict, lax, none", s.Cookie.SameSite)
	} else if strings.EqualFold(s.Cookie.SameSite, "none") && !s.Cookie.Secure {
		p.add("hanko.session.cookie.same_site", "none requires hanko.session.cookie.secure: true; browsers drop SameSite=None cookies that are not Secure")
	}
	if !oneOf(s.Cookie.Retention, "persistent", "session", "prompt") {
		p.add("hanko.session.cookie.retention", "%q is not one of persistent, session, prompt", s.Cookie.Retention)
	}
	for name := range s.JWTTemplate.Claims {
		switch name {
		case "sub", "iat", "exp", "aud", "iss", "nbf", "jti", "session_id", "email", "username", "amr":
			p.add("hanko.session.jwt_template.claims."+name, "is a reserved claim set by Latchkey; choose another name")
		}
	}
	for i, o := range h.CORS.AllowOrigins {
		key := fmt.Sprintf("hanko.cors.allow_origins[%d]", i)
		if o == "*" {
			if !h.CORS.UnsafeWildcardOriginAllowed {
				p.add(key, "\"*\" with credentials needs hanko.cors.unsafe_wildcard_origin_allowed: true")
			}
			continue
		}
		if u, err := url.Parse(strings.Replace(o, "*.", "x.", 1)); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			p.add(key, "%q is not an origin like https://app.example.com", o)
		}
	}
	for key, l := range map[string]HankoRateLimit{"hanko.rate_limiter.passcode_limits": h.RateLimiter.PasscodeLimits,
		"hanko.rate_limiter.password_limits": h.RateLimiter.PasswordLimits} {
		if h.RateLimiter.Enabled && (l.Tokens < 1 || l.Interval <= 0) {
			p.add(key, "tokens (%d) and interval (%s) must be positive", l.Tokens, l.Interval)
		}
	}
	w := h.Webhooks
	if w.MaxFailures < 1 {
		p.add("hanko.webhooks.max_failures", "%d must be at least 1", w.MaxFailures)
	}
	if w.MaxAttempts < 1 {
		p.add("hanko.webhooks.max_attempts", "%d must be at least 1", w.MaxAttempts)
	}
	if w.Timeout <= 0 {
		p.add("hanko.webhooks.timeout", "%s must be positive", w.Timeout)
	}
	for i, hook := range w.Hooks {
		key := fmt.Sprintf("hanko.webhooks.hooks[%d]", i)
		if u, err := url.Parse(hook.Callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(key+".callback", "%q is not an http(s) URL", hook.Callback)
		}
		if len(hook.Events) == 0 {
			p.add(key+".events", "must name at least one event")
		}
		for _, e := range hook.Events {
			if !IsHankoEvent(e) {
				p.add(key+".events", "%q is not a Hanko event; use one of %s", e, strings.Join(HankoEvents, ", "))
			}
		}
	}
}
