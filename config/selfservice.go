package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SelfService configures the self-service flows and credential methods.
type SelfService struct {
	DefaultBrowserReturnURL string   `koanf:"default_browser_return_url" doc:"Where browsers go after a flow when no return_to is given." default:"<serve.public.base_url>/ui/settings"`
	AllowedReturnURLs       []string `koanf:"allowed_return_urls" doc:"URLs that return_to may point at: the path and everything below it, matched on path segment boundaries (/app allows /app/x, not /application); one \"*.\" wildcard at the start of the host allowed."`
	Methods                 Methods  `koanf:"methods"`
	Flows                   Flows    `koanf:"flows"`
}

// Methods enables and configures the credential methods.
type Methods struct {
	Password     PasswordMethod `koanf:"password"`
	Code         CodeMethod     `koanf:"code"`
	Link         LinkMethod     `koanf:"link"`
	Profile      Toggle         `koanf:"profile"`
	TOTP         TOTPMethod     `koanf:"totp"`
	WebAuthn     WebAuthnMethod `koanf:"webauthn"`
	Passkey      PasskeyMethod  `koanf:"passkey"`
	LookupSecret Toggle         `koanf:"lookup_secret"`
	OIDC         OIDCMethod     `koanf:"oidc"`
}

// Toggle is a method with nothing to configure but whether it is on.
type Toggle struct {
	Enabled bool `koanf:"enabled" doc:"Enable the method."`
}

// PasswordMethod configures passwords.
type PasswordMethod struct {
	Enabled bool           `koanf:"enabled" doc:"Enable passwords."`
	Config  PasswordConfig `koanf:"config"`
}

// PasswordConfig holds the password policy.
type PasswordConfig struct {
	HaveIBeenPwnedEnabled            bool   `koanf:"haveibeenpwned_enabled" doc:"Refuse new passwords (Kratos registration and settings) found in more than max_breaches known data breaches, asking Have I Been Pwned's range API by k-anonymity (only 5 hex digits of the SHA-1 leave the server; 4000034 'The password has been found in data breaches and must no longer be used.'). Off by default in Latchkey (Kratos' default is true), so a server makes no outside calls unless told to."`
	HaveIBeenPwnedHost               string `koanf:"haveibeenpwned_host" doc:"host[:port] of the Pwned Passwords range API, asked as https://<host>/range/<prefix> (a self-hosted mirror, as in Kratos)." default:"api.pwnedpasswords.com"`
	MaxBreaches                      int    `koanf:"max_breaches" doc:"How many breaches a password may appear in before it is refused (0 to 100, as Kratos)."`
	IgnoreNetworkErrors              bool   `koanf:"ignore_network_errors" doc:"When the breach look-up fails (unreachable, timeout of 5s, an answer other than 200 or one that cannot be read), accept the password (true, Kratos' default) or refuse it with 4000005 (false)."`
	MinPasswordLength                int    `koanf:"min_password_length" doc:"Minimum password length (at least 6)."`
	IdentifierSimilarityCheckEnabled bool   `koanf:"identifier_similarity_check_enabled" doc:"Reject passwords too similar to the identifier."`
}

// CodeMethod configures one-time codes sent by e-mail or SMS.
type CodeMethod struct {
	Enabled             bool       `koanf:"enabled" doc:"Enable one-time codes (needed by recovery and verification with use: code)."`
	PasswordlessEnabled bool       `koanf:"passwordless_enabled" doc:"Allow login and registration with a code alone."`
	MFAEnabled          bool       `koanf:"mfa_enabled" doc:"Offer a code sent to a verified address of the identity's code credential as second factor (login ?aal=aal2, authentication method code at aal2); such an address makes aal2 the identity's highest available level. Not together with passwordless_enabled."`
	Config              CodeConfig `koanf:"config"`
}

// CodeConfig configures one-time codes.
type CodeConfig struct {
	Lifespan       time.Duration `koanf:"lifespan" doc:"How long a code is valid."`
	MaxSubmissions int           `koanf:"max_submissions" doc:"Wrong codes accepted before the flow must request a new one."`
}

// LinkMethod configures magic links for recovery and verification.
type LinkMethod struct {
	Enabled bool       `koanf:"enabled" doc:"Enable links (recovery and verification with use: link)."`
	Config  LinkConfig `koanf:"config"`
}

// LinkConfig configures magic links.
type LinkConfig struct {
	BaseURL  string        `koanf:"base_url" doc:"Base URL of the links; empty means serve.public.base_url."`
	Lifespan time.Duration `koanf:"lifespan" doc:"How long a link is valid."`
}

// TOTPMethod configures time-based one-time passwords.
type TOTPMethod struct {
	Enabled bool       `koanf:"enabled" doc:"Enable TOTP as second factor."`
	Config  TOTPConfig `koanf:"config"`
}

// TOTPConfig configures TOTP.
type TOTPConfig struct {
	Issuer string `koanf:"issuer" doc:"Issuer shown in authenticator apps." default:"host of serve.public.base_url"`
}

// WebAuthnMethod configures WebAuthn security keys (and, with passwordless,
// Kratos' older passkey mode).
type WebAuthnMethod struct {
	Enabled bool           `koanf:"enabled" doc:"Enable WebAuthn."`
	Config  WebAuthnConfig `koanf:"config"`
}

// WebAuthnConfig configures WebAuthn. Its relying party defaults, field by
// field, to selfservice.methods.passkey.config.rp: Latchkey has one
// relying party, and one credential store for passkeys and security keys.
type WebAuthnConfig struct {
	Passwordless bool         `koanf:"passwordless" doc:"Use WebAuthn as first factor instead of second."`
	RP           RelyingParty `koanf:"rp" doc:"Defaults to selfservice.methods.passkey.config.rp."`
}

// PasskeyMethod configures passkeys (discoverable WebAuthn credentials).
type PasskeyMethod struct {
	Enabled bool          `koanf:"enabled" doc:"Enable passkeys."`
	Config  PasskeyConfig `koanf:"config"`
}

// PasskeyConfig configures passkeys.
type PasskeyConfig struct {
	RP RelyingParty `koanf:"rp" doc:"The WebAuthn relying party of both faces (Hanko's passkeys use it too)."`
}

// RelyingParty is the WebAuthn relying party. After loading, an empty ID
// means no usable relying party could be derived (the public base URL's
// host is an IP address): WebAuthn is then offered nowhere.
type RelyingParty struct {
	DisplayName string   `koanf:"display_name" doc:"Name shown by authenticators." default:"Latchkey"`
	ID          string   `koanf:"id" doc:"RP ID: the site's host name (browsers refuse IP addresses); every origin must be on it or a subdomain. selfservice.methods.webauthn.config.rp defaults to selfservice.methods.passkey.config.rp." default:"host of serve.public.base_url; with --dev and an IP host: localhost"`
	Origin      string   `koanf:"origin" doc:"Deprecated single origin; prefer origins."`
	Origins     []string `koanf:"origins" doc:"Origins allowed to use the credentials." default:"[origin of serve.public.base_url]; with --dev and an IP host: [http://localhost:<serve.public.port>]"`
}

// Usable reports whether the relying party can run WebAuthn ceremonies.
func (rp RelyingParty) Usable() bool { return rp.ID != "" && !isIPHost(rp.ID) }

// WebAuthnRP returns the one relying party (selfservice.methods.passkey.config.rp
// after loading).
func (c *Config) WebAuthnRP() RelyingParty { return c.SelfService.Methods.Passkey.Config.RP }

// OIDCMethod configures sign-in with OpenID Connect and OAuth2 providers.
type OIDCMethod struct {
	Enabled bool       `koanf:"enabled" doc:"Enable social sign-in."`
	Config  OIDCConfig `koanf:"config"`
}

// OIDCConfig lists the upstream providers.
type OIDCConfig struct {
	BaseRedirectURI string         `koanf:"base_redirect_uri" doc:"Base of the redirect URIs registered at providers; empty means serve.public.base_url."`
	Providers       []OIDCProvider `koanf:"providers" doc:"Upstream providers."`
}

// OIDCProvider is one upstream OpenID Connect or OAuth2 provider.
type OIDCProvider struct {
	ID                string         `koanf:"id" doc:"Provider id used in URLs and credentials."`
	Provider          string         `koanf:"provider" doc:"Provider kind: generic, google, microsoft, apple, gitlab, linkedin, slack, auth0 (OpenID Connect, by discovery) or github, discord, facebook (OAuth2)."`
	Label             string         `koanf:"label" doc:"Button label."`
	ClientID          string         `koanf:"client_id" doc:"OAuth2 client id."`
	ClientSecret      string         `koanf:"client_secret" doc:"OAuth2 client secret." secret:"true"`
	IssuerURL         string         `koanf:"issuer_url" doc:"OIDC issuer (discovery) URL."`
	AuthURL           string         `koanf:"auth_url" doc:"Authorization endpoint (non-discovery providers)."`
	TokenURL          string         `koanf:"token_url" doc:"Token endpoint (non-discovery providers)."`
	MapperURL         string         `koanf:"mapper_url" doc:"Jsonnet claims-to-traits mapper."`
	Scope             []string       `koanf:"scope" doc:"Scopes requested."`
	MicrosoftTenant   string         `koanf:"microsoft_tenant" doc:"Azure AD tenant (provider microsoft)."`
	SubjectSource     string         `koanf:"subject_source" doc:"Not supported (refused): the subject is always the ID token's sub or the provider API's user id."`
	AppleTeamID       string         `koanf:"apple_team_id" doc:"Apple team id (provider apple)."`
	ApplePrivateKeyID string         `koanf:"apple_private_key_id" doc:"Apple private key id (provider apple)."`
	ApplePrivateKey   string         `koanf:"apple_private_key" doc:"Apple private key PEM (provider apple)." secret:"true"`
	RequestedClaims   map[string]any `koanf:"requested_claims" doc:"OIDC claims request parameter."`
	PKCE              string         `koanf:"pkce" doc:"PKCE use: auto, force or never."`
	// fromHanko names the hanko.third_party entry the provider came from
	// ("" for an entry of this list).
	fromHanko string
}

// oidcProviders are the provider kinds Latchkey implements (Kratos' names;
// keep in step with method/oidc.Kinds). Kratos' other kinds are refused: use
// generic with the provider's issuer_url where it speaks OpenID Connect.
var oidcProviders = []string{"generic", "google", "microsoft", "apple", "gitlab", "linkedin", "slack", "auth0", "github", "discord", "facebook"}

// Flows configures the self-service flows.
type Flows struct {
	Login        LoginFlow        `koanf:"login"`
	Registration RegistrationFlow `koanf:"registration"`
	Settings     SettingsFlow     `koanf:"settings"`
	Recovery     AddressFlow      `koanf:"recovery"`
	Verification AddressFlow      `koanf:"verification"`
	Logout       LogoutFlow       `koanf:"logout"`
	Error        ErrorFlow        `koanf:"error"`
}

// LoginFlow configures login.
type LoginFlow struct {
	UIURL    string        `koanf:"ui_url" doc:"Login page." default:"<serve.public.base_url>/ui/login"`
	Lifespan time.Duration `koanf:"lifespan" doc:"How long a login flow may take."`
	Before   Before        `koanf:"before"`
	After    After         `koanf:"after"`
}

// RegistrationFlow configures registration.
//
// Unlike Kratos, whose after.<method>.hooks are empty by default (so a new
// account must log in after signing up), Latchkey defaults
// after.password.hooks, after.code.hooks, after.passkey.hooks,
// after.webauthn.hooks and after.oidc.hooks to [{hook: session}]: a
// registration logs the user in at once, and a native registration returns
// a session token out of the box. Setting a method's hooks (even to []) or
// relying on after.hooks instead needs the method's list to be set
// explicitly, because a method's own hooks take precedence over after.hooks.
type RegistrationFlow struct {
	Enabled  bool          `koanf:"enabled" doc:"Allow self-service registration."`
	UIURL    string        `koanf:"ui_url" doc:"Registration page." default:"<serve.public.base_url>/ui/registration"`
	Lifespan time.Duration `koanf:"lifespan" doc:"How long a registration flow may take."`
	Style    string        `koanf:"style" doc:"Registration screens: profile_first (traits, then credentials) or unified (one screen)."`
	Before   Before        `koanf:"before"`
	After    After         `koanf:"after"`
}

// The registration styles (selfservice.flows.registration.style).
const (
	RegistrationProfileFirst = "profile_first"
	RegistrationUnified      = "unified"
)

// SettingsFlow configures account settings.
type SettingsFlow struct {
	UIURL                   string        `koanf:"ui_url" doc:"Settings page." default:"<serve.public.base_url>/ui/settings"`
	Lifespan                time.Duration `koanf:"lifespan" doc:"How long a settings flow may take."`
	PrivilegedSessionMaxAge time.Duration `koanf:"privileged_session_max_age" doc:"How recent the last sign-in must be to change credentials."`
	RequiredAAL             string        `koanf:"required_aal" doc:"AAL needed for settings: aal1 or highest_available."`
	Before                  Before        `koanf:"before"`
	After                   After         `koanf:"after"`
}

// AddressFlow configures recovery or verification, both of which send a code
// or a link to an address.
type AddressFlow struct {
	Enabled                 bool          `koanf:"enabled" doc:"Enable the flow."`
	UIURL                   string        `koanf:"ui_url" doc:"The flow's page." default:"<serve.public.base_url>/ui/<flow>"`
	Lifespan                time.Duration `koanf:"lifespan" doc:"How long the flow may take."`
	Use                     string        `koanf:"use" doc:"What is sent: code or link."`
	NotifyUnknownRecipients bool          `koanf:"notify_unknown_recipients" doc:"Tell an address with no account that someone asked."`
	Before                  Before        `koanf:"before"`
	After                   After         `koanf:"after"`
}

// LogoutFlow configures logout.
type LogoutFlow struct {
	After LogoutAfter `koanf:"after"`
}

// LogoutAfter says where browsers go after logout.
type LogoutAfter struct {
	DefaultBrowserReturnURL string `koanf:"default_browser_return_url" doc:"Where browsers go after logout; empty means selfservice.default_browser_return_url."`
}

// ErrorFlow configures the error page.
type ErrorFlow struct {
	UIURL string `koanf:"ui_url" doc:"Error page." default:"<serve.public.base_url>/ui/error"`
}

// Before holds hooks run when a flow starts.
type Before struct {
	Hooks []Hook `koanf:"hooks" doc:"Hooks as a list of {hook, config}."`
}

// After holds what happens when a flow completes, overall and per method.
type After struct {
	DefaultBrowserReturnURL string      `koanf:"default_browser_return_url" doc:"Where browsers go when the flow completes."`
	Hooks                   []Hook      `koanf:"hooks" doc:"Hooks as a list of {hook, config}."`
	Password                AfterMethod `koanf:"password"`
	Code                    AfterMethod `koanf:"code"`
	WebAuthn                AfterMethod `koanf:"webauthn"`
	Passkey                 AfterMethod `koanf:"passkey"`
	OIDC                    AfterMethod `koanf:"oidc"`
	TOTP                    AfterMethod `koanf:"totp"`
	LookupSecret            AfterMethod `koanf:"lookup_secret"`
	Profile                 AfterMethod `koanf:"profile"`
}

// AfterMethod holds what happens when a flow completes with one method.
type AfterMethod struct {
	DefaultBrowserReturnURL string `koanf:"default_browser_return_url" doc:"Where browsers go when the flow completes with this method."`
	Hooks                   []Hook `koanf:"hooks" doc:"Hooks as a list of {hook, config}."`
}

// Hook is one flow hook. Config is the hook's own settings (for web_hook:
// url, method, body, auth, response, can_interrupt), kept raw.
type Hook struct {
	Hook   string         `koanf:"hook" doc:"Hook name: session, revoke_active_sessions, require_verified_address, show_verification_ui or web_hook. Before a flow only web_hook runs; after recovery web_hook and revoke_active_sessions, after verification web_hook (as in Kratos)."`
	Config map[string]any `koanf:"config" doc:"Hook settings (web_hook: url, method, headers, body (required), auth, response.ignore, response.parse, can_interrupt, emit_analytics_event, id). A response.ignore call is queued in the database with the step that triggers it and tried as Kratos tries it (three tries, 1 s then 2 s apart; a 429 or 503 answer's Retry-After sets the wait, up to 1 h; other 4xx answers, 501 and untrusted TLS certificates are not tried again); unlike Kratos, the queue outlives a restart, and a call whose server stopped while sending it is tried again after 5 minutes."`
}

// String renders the hook as YAML flow mapping ({hook: session}), as the
// reference shows defaults.
func (h Hook) String() string {
	if len(h.Config) == 0 {
		return "{hook: " + h.Hook + "}"
	}
	return fmt.Sprintf("{hook: %s, config: %v}", h.Hook, h.Config)
}

var hookNames = []string{"session", "revoke_active_sessions", "require_verified_address", "show_verification_ui", "web_hook"}

func (s *SelfService) setDefaults(dev bool) {
	m := &s.Methods
	m.Password = PasswordMethod{Enabled: true, Config: PasswordConfig{
		MinPasswordLength: 8, IdentifierSimilarityCheckEnabled: true,
		HaveIBeenPwnedHost: "api.pwnedpasswords.com", IgnoreNetworkErrors: true,
	}}
	m.Code = CodeMethod{Enabled: true, Config: CodeConfig{Lifespan: time.Hour, MaxSubmissions: 5}}
	m.Link.Config.Lifespan = time.Hour
	m.Profile.Enabled = true
	f := &s.Flows
	f.Login.Lifespan = time.Hour
	f.Registration = RegistrationFlow{Enabled: true, Lifespan: time.Hour, Style: RegistrationProfileFirst}
	// Kratos ships no after-registration hooks; Latchkey logs the new
	// account in (see RegistrationFlow).
	f.Registration.After.Password.Hooks = []Hook{{Hook: "session"}}
	f.Registration.After.Code.Hooks = []Hook{{Hook: "session"}}
	f.Registration.After.Passkey.Hooks = []Hook{{Hook: "session"}}
	f.Registration.After.WebAuthn.Hooks = []Hook{{Hook: "session"}}
	f.Registration.After.OIDC.Hooks = []Hook{{Hook: "session"}}
	f.Settings = SettingsFlow{Lifespan: time.Hour, PrivilegedSessionMaxAge: time.Hour, RequiredAAL: "highest_available"}
	f.Recovery = AddressFlow{Enabled: true, Lifespan: time.Hour, Use: "code"}
	f.Verification = AddressFlow{Enabled: true, Lifespan: time.Hour, Use: "code"}
}

func (s *SelfService) resolve(c *Config, w *[]Warning) {
	base, err := url.Parse(c.Serve.Public.BaseURL)
	if err != nil || base.Host == "" {
		return // reported by serve's validation
	}
	ui := func(dst *string, page string) {
		if *dst == "" {
			*dst = base.JoinPath("ui", page).String()
		}
	}
	f := &s.Flows
	ui(&f.Login.UIURL, "login")
	ui(&f.Registration.UIURL, "registration")
	ui(&f.Settings.UIURL, "settings")
	ui(&f.Recovery.UIURL, "recovery")
	ui(&f.Verification.UIURL, "verification")
	ui(&f.Error.UIURL, "error")
	ui(&s.DefaultBrowserReturnURL, "settings")
	s.resolveRP(c, base, w)
	s.warnAnalytics(w)
	s.warnAddressParse(w)
	s.warnParseWithoutIdentity(w)
	if s.Methods.TOTP.Config.Issuer == "" {
		s.Methods.TOTP.Config.Issuer = base.Hostname()
	}
	for i := range s.Methods.OIDC.Config.Providers {
		if s.Methods.OIDC.Config.Providers[i].PKCE == "" {
			s.Methods.OIDC.Config.Providers[i].PKCE = "auto"
		}
	}
}

// resolveRP derives the one relying party (passkey.config.rp) from the
// public base URL where it is not set, and defaults webauthn.config.rp to
// it field by field.
func (s *SelfService) resolveRP(c *Config, base *url.URL, w *[]Warning) {
	const key = "selfservice.methods.passkey.config.rp"
	pk := &s.Methods.Passkey.Config.RP
	if pk.DisplayName == "" {
		pk.DisplayName = "Latchkey"
	}
	if len(pk.Origins) == 0 && pk.Origin != "" {
		pk.Origins = []string{pk.Origin}
	}
	host := base.Hostname()
	if pk.ID == "" {
		switch {
		case !isIPHost(host):
			pk.ID = host
		case c.Dev:
			// Browsers refuse an IP address as RP ID; a browser on the
			// same machine reaches the listener as localhost.
			pk.ID = "localhost"
			if len(pk.Origins) == 0 {
				pk.Origins = []string{fmt.Sprintf("http://localhost:%d", c.Serve.Public.Port)}
			}
		default:
			*w = append(*w, Warning{Key: key + ".id", Message: fmt.Sprintf("not set, and the host of serve.public.base_url (%s) is an IP address, which browsers refuse as a WebAuthn relying party id: passkeys and security keys are offered nowhere. Set %s.id to a host name such as localhost (and %s.origins to the origin browsers open, e.g. http://localhost:%d) and open the site under that name", host, key, key, c.Serve.Public.Port)})
		}
	}
	if len(pk.Origins) == 0 && pk.ID != "" {
		if hostWithin(host, pk.ID) {
			pk.Origins = []string{(&url.URL{Scheme: base.Scheme, Host: base.Host}).String()}
		} else {
			pk.Origins = []string{"https://" + pk.ID}
		}
	}
	wa := &s.Methods.WebAuthn.Config.RP
	if wa.ID == "" {
		wa.ID = pk.ID
	}
	if wa.DisplayName == "" {
		wa.DisplayName = pk.DisplayName
	}
	if len(wa.Origins) == 0 {
		if wa.Origin != "" {
			wa.Origins = []string{wa.Origin}
		} else {
			wa.Origins = append([]string(nil), pk.Origins...)
		}
	}
}

// isIPHost reports whether host (possibly in brackets) is an IP address.
func isIPHost(host string) bool {
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}

// hostWithin reports whether host is rpID or one of its subdomains
// (WebAuthn §5.1.2).
func hostWithin(host, rpID string) bool {
	host, rpID = strings.ToLower(host), strings.ToLower(rpID)
	return host == rpID || strings.HasSuffix(host, "."+rpID)
}

// mailUser names the first enabled feature that sends e-mail, or returns "".
func (s *SelfService) mailUser() string {
	switch {
	case s.Flows.Verification.Enabled:
		return "selfservice.flows.verification"
	case s.Flows.Recovery.Enabled:
		return "selfservice.flows.recovery"
	case s.Methods.Code.PasswordlessEnabled:
		return "selfservice.methods.code.passwordless_enabled"
	case s.Methods.Code.MFAEnabled:
		return "selfservice.methods.code.mfa_enabled"
	}
	return ""
}

func (s *SelfService) validate(_ *Config, p *Problems) {
	checkReturnURL(p, "selfservice.default_browser_return_url", s.DefaultBrowserReturnURL, true)
	for i, u := range s.AllowedReturnURLs {
		checkAllowedReturnURL(p, fmt.Sprintf("selfservice.allowed_return_urls[%d]", i), u)
	}
	m := s.Methods
	if m.Code.MFAEnabled && m.Code.PasswordlessEnabled {
		p.add("selfservice.methods.code.mfa_enabled", "true cannot be combined with selfservice.methods.code.passwordless_enabled: true (as in Kratos, a code that is a second factor is not a first factor); switch one off")
	}
	if m.Code.MFAEnabled && !m.Code.Enabled {
		p.add("selfservice.methods.code.mfa_enabled", "true needs selfservice.methods.code.enabled: true")
	}
	if n := m.Password.Config.MinPasswordLength; n < 6 {
		p.add("selfservice.methods.password.config.min_password_length", "%d is below the minimum of 6", n)
	}
	if n := m.Password.Config.MaxBreaches; n < 0 || n > 100 {
		p.add("selfservice.methods.password.config.max_breaches", "%d is not between 0 and 100", n)
	}
	if h := m.Password.Config.HaveIBeenPwnedHost; h == "" || strings.ContainsAny(h, "/?#@ \t") || strings.Contains(h, "://") {
		p.add("selfservice.methods.password.config.haveibeenpwned_host", "%q is not a host[:port]: give it without scheme or path, such as api.pwnedpasswords.com (Latchkey asks https://<host>/range/<prefix>)", h)
	}
	if m.Code.Config.Lifespan <= 0 {
		p.add("selfservice.methods.code.config.lifespan", "%s must be positive", m.Code.Config.Lifespan)
	}
	if m.Code.Config.MaxSubmissions < 1 {
		p.add("selfservice.methods.code.config.max_submissions", "%d must be at least 1", m.Code.Config.MaxSubmissions)
	}
	if m.Link.Config.Lifespan <= 0 {
		p.add("selfservice.methods.link.config.lifespan", "%s must be positive", m.Link.Config.Lifespan)
	}
	checkHTTPURL(p, "selfservice.methods.link.config.base_url", m.Link.Config.BaseURL, false)
	checkRP(p, "selfservice.methods.passkey.config.rp", m.Passkey.Config.RP)
	if !sameRP(m.WebAuthn.Config.RP, m.Passkey.Config.RP) { // set on its own
		checkRP(p, "selfservice.methods.webauthn.config.rp", m.WebAuthn.Config.RP)
	}
	if m.WebAuthn.Config.RP.ID != m.Passkey.Config.RP.ID && m.WebAuthn.Config.RP.ID != "" && m.Passkey.Config.RP.ID != "" {
		p.add("selfservice.methods.webauthn.config.rp.id", "%q differs from selfservice.methods.passkey.config.rp.id %q; Latchkey has one relying party and one credential store for passkeys and security keys, so set only the passkey one (the webauthn one defaults to it)", m.WebAuthn.Config.RP.ID, m.Passkey.Config.RP.ID)
	}
	for name, on := range map[string]bool{"passkey": m.Passkey.Enabled, "webauthn": m.WebAuthn.Enabled} {
		if on && m.Passkey.Config.RP.ID == "" {
			p.add("selfservice.methods."+name+".enabled", "needs a relying party: the host of serve.public.base_url is an IP address, which browsers refuse; set selfservice.methods.passkey.config.rp.id to a host name such as localhost")
		}
	}
	checkHTTPURL(p, "selfservice.methods.oidc.config.base_redirect_uri", m.OIDC.Config.BaseRedirectURI, false)
	ids := map[string]int{}
	for i, pr := range m.OIDC.Config.Providers {
		key := fmt.Sprintf("selfservice.methods.oidc.config.providers[%d]", i)
		if pr.ID == "" {
			p.add(key+".id", "is required")
		} else if j, dup := ids[pr.ID]; dup {
			p.add(key+".id", "%q is also providers[%d].id; provider ids must be unique", pr.ID, j)
		} else {
			ids[pr.ID] = i
		}
		if !oneOf(pr.Provider, oidcProviders...) {
			p.add(key+".provider", "%q is not one of %s (for another OpenID Connect provider use generic with its issuer_url)", pr.Provider, strings.Join(oidcProviders, ", "))
		}
		if pr.ClientID == "" {
			p.add(key+".client_id", "is required")
		}
		if pr.Provider == "generic" || pr.Provider == "auth0" {
			checkHTTPURL(p, key+".issuer_url", pr.IssuerURL, true)
		} else {
			checkHTTPURL(p, key+".issuer_url", pr.IssuerURL, false)
		}
		checkHTTPURL(p, key+".auth_url", pr.AuthURL, false)
		checkHTTPURL(p, key+".token_url", pr.TokenURL, false)
		if pr.Provider == "microsoft" && pr.MicrosoftTenant == "" {
			p.add(key+".microsoft_tenant", "is required for provider microsoft")
		}
		if pr.Provider == "apple" {
			if pr.ClientSecret == "" && (pr.AppleTeamID == "" || pr.ApplePrivateKeyID == "" || pr.ApplePrivateKey == "") {
				p.add(key+".apple_private_key", "provider apple needs client_secret or all of apple_team_id, apple_private_key_id, apple_private_key")
			}
		} else if pr.ClientSecret == "" {
			p.add(key+".client_secret", "is required")
		}
		if !oneOf(pr.PKCE, "auto", "force", "never") {
			p.add(key+".pkce", "%q is not one of auto, force, never", pr.PKCE)
		}
		if pr.SubjectSource != "" {
			p.add(key+".subject_source", "is not supported: the subject is always the ID token's sub (or the provider API's user id); remove it")
		}
		checkLoaderURL(p, key+".mapper_url", pr.MapperURL, false)
	}

	f := s.Flows
	const fk = "selfservice.flows."
	checkFlowURL(p, fk+"login.ui_url", f.Login.UIURL)
	checkFlowURL(p, fk+"registration.ui_url", f.Registration.UIURL)
	checkFlowURL(p, fk+"settings.ui_url", f.Settings.UIURL)
	checkFlowURL(p, fk+"recovery.ui_url", f.Recovery.UIURL)
	checkFlowURL(p, fk+"verification.ui_url", f.Verification.UIURL)
	checkFlowURL(p, fk+"error.ui_url", f.Error.UIURL)
	for key, d := range map[string]time.Duration{
		"login.lifespan": f.Login.Lifespan, "registration.lifespan": f.Registration.Lifespan,
		"settings.lifespan": f.Settings.Lifespan, "recovery.lifespan": f.Recovery.Lifespan,
		"verification.lifespan": f.Verification.Lifespan, "settings.privileged_session_max_age": f.Settings.PrivilegedSessionMaxAge,
	} {
		if d <= 0 {
			p.add(fk+key, "%s must be positive", d)
		}
	}
	if !oneOf(f.Registration.Style, RegistrationProfileFirst, RegistrationUnified) {
		p.add(fk+"registration.style", "%q is not one of %s, %s", f.Registration.Style, RegistrationProfileFirst, RegistrationUnified)
	}
	if !oneOf(f.Settings.RequiredAAL, "aal1", "highest_available") {
		p.add(fk+"settings.required_aal", "%q is not one of aal1, highest_available", f.Settings.RequiredAAL)
	}
	for name, af := range map[string]AddressFlow{"recovery": f.Recovery, "verification": f.Verification} {
		if !oneOf(af.Use, "code", "link") {
			p.add(fk+name+".use", "%q is not one of code, link", af.Use)
		} else if af.Enabled && af.Use == "code" && !m.Code.Enabled {
			p.add(fk+name+".use", "is code but selfservice.methods.code.enabled is false; enable it or use link")
		} else if af.Enabled && af.Use == "link" && !m.Link.Enabled {
			p.add(fk+name+".use", "is link but selfservice.methods.link.enabled is false; enable it or use code")
		}
	}
	checkBeforeHooks(p, fk+"login.before.hooks", f.Login.Before.Hooks, hooksBefore)
	checkBeforeHooks(p, fk+"registration.before.hooks", f.Registration.Before.Hooks, hooksBefore)
	checkBeforeHooks(p, fk+"settings.before.hooks", f.Settings.Before.Hooks, hooksBefore)
	checkBeforeHooks(p, fk+"recovery.before.hooks", f.Recovery.Before.Hooks, hooksBefore)
	checkBeforeHooks(p, fk+"verification.before.hooks", f.Verification.Before.Hooks, hooksBefore)
	checkAfter(p, fk+"login.after", f.Login.After, hooksAfterLogin)
	checkAfter(p, fk+"registration.after", f.Registration.After, hooksAfterRegistration)
	checkUnreachedHooks(p, fk+"registration.after.profile.hooks", f.Registration.After.Profile.Hooks)
	checkAfter(p, fk+"settings.after", f.Settings.After, hooksAfterSettings)
	checkAddressAfter(p, fk+"recovery.after", f.Recovery.After, hooksAfterRecovery)
	checkAddressAfter(p, fk+"verification.after", f.Verification.After, hooksAfterVerification)
	checkReturnURL(p, fk+"logout.after.default_browser_return_url", f.Logout.After.DefaultBrowserReturnURL, false)
}

func sameRP(a, b RelyingParty) bool {
	return a.ID == b.ID && a.Origin == b.Origin && slices.Equal(a.Origins, b.Origins)
}

func checkRP(p *Problems, key string, rp RelyingParty) {
	checkHTTPURL(p, key+".origin", rp.Origin, false)
	if rp.ID == "" {
		return // no usable relying party; resolve warned
	}
	if isIPHost(rp.ID) {
		p.add(key+".id", "%q is an IP address, which browsers refuse as a WebAuthn relying party id; set a host name such as localhost and open the site under that name", rp.ID)
		return
	}
	if strings.ContainsAny(rp.ID, "/:") {
		p.add(key+".id", "%q must be a bare host name such as example.com (no scheme, port or path)", rp.ID)
		return
	}
	if len(rp.Origins) == 0 {
		p.add(key+".origins", "must list at least one origin, e.g. https://%s", rp.ID)
	}
	for i, o := range rp.Origins {
		k := fmt.Sprintf("%s.origins[%d]", key, i)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.add(k, "%q is not an origin like https://%s", o, rp.ID)
			continue
		}
		if !hostWithin(u.Hostname(), rp.ID) {
			p.add(k, "%q is not on the relying party id %q or a subdomain of it; browsers would refuse every ceremony (set rp.id to the host browsers open)", o, rp.ID)
		}
	}
}

func checkAfter(p *Problems, key string, a After, pos hookPosition) {
	checkReturnURL(p, key+".default_browser_return_url", a.DefaultBrowserReturnURL, false)
	checkHooks(p, key+".hooks", a.Hooks, pos)
	for name, am := range map[string]AfterMethod{
		"password": a.Password, "code": a.Code, "webauthn": a.WebAuthn, "passkey": a.Passkey,
		"oidc": a.OIDC, "totp": a.TOTP, "lookup_secret": a.LookupSecret, "profile": a.Profile,
	} {
		checkReturnURL(p, key+"."+name+".default_browser_return_url", am.DefaultBrowserReturnURL, false)
		checkHooks(p, key+"."+name+".hooks", am.Hooks, pos)
	}
}

// checkAddressAfter checks recovery.after or verification.after. Kratos has
// no per-method keys there (its schema allows default_browser_return_url
// and hooks only), and runs only web_hook after both flows plus
// revoke_active_sessions after recovery: anything else would be accepted
// and never run.
func checkAddressAfter(p *Problems, key string, a After, pos hookPosition) {
	checkReturnURL(p, key+".default_browser_return_url", a.DefaultBrowserReturnURL, false)
	allowed, runs := []string{"web_hook"}, "only web_hook runs"
	if pos == hooksAfterRecovery {
		allowed, runs = []string{"web_hook", "revoke_active_sessions"}, "only web_hook and revoke_active_sessions run"
	}
	for i, h := range a.Hooks {
		if !oneOf(h.Hook, allowed...) && oneOf(h.Hook, hookNames...) {
			p.add(fmt.Sprintf("%s.hooks[%d].hook", key, i), "%s does not run here (%s, as in Kratos); remove it", h.Hook, runs)
		}
	}
	checkHooks(p, key+".hooks", a.Hooks, pos)
	for name, am := range map[string]AfterMethod{
		"password": a.Password, "code": a.Code, "webauthn": a.WebAuthn, "passkey": a.Passkey,
		"oidc": a.OIDC, "totp": a.TOTP, "lookup_secret": a.LookupSecret, "profile": a.Profile,
	} {
		if am.DefaultBrowserReturnURL != "" || len(am.Hooks) > 0 {
			p.add(key+"."+name, "Kratos has no per-method settings here; use %s.hooks and %s.default_browser_return_url", key, key)
		}
	}
}

// checkBeforeHooks refuses what checkHooks does and, before a flow, every
// hook but web_hook: Kratos runs only web hooks there, and Latchkey would
// otherwise accept a session hook that never runs.
func checkBeforeHooks(p *Problems, key string, hooks []Hook, pos hookPosition) {
	for i, h := range hooks {
		if h.Hook != "web_hook" && oneOf(h.Hook, hookNames...) {
			p.add(fmt.Sprintf("%s[%d].hook", key, i), "%s does not run before a flow (only web_hook does, as in Kratos); move it to the flow's after hooks or remove it", h.Hook)
		}
	}
	checkHooks(p, key, hooks, pos)
}

// checkUnreachedHooks refuses registration.after.profile.hooks: Kratos has
// no such list, and no registration ends with the profile method (in the
// profile_first style the traits screen leads to a credential method, whose
// after hooks, or registration.after.hooks, run).
func checkUnreachedHooks(p *Problems, key string, hooks []Hook) {
	for i := range hooks {
		p.add(fmt.Sprintf("%s[%d]", key, i), "never runs: a registration ends with the method that sets the credential (password, code, passkey, webauthn, oidc), whose after hooks or registration.after.hooks run, also in the profile_first style; move the hook there")
	}
}

// hookPosition is where a hook list sits, which decides what a web_hook
// may do there.
type hookPosition int

const (
	hooksBefore            hookPosition = iota // <flow>.before: when a flow starts
	hooksAfterRegistration                     // registration.after[.<method>]
	hooksAfterLogin                            // login.after[.<method>]
	hooksAfterSettings                         // settings.after[.<method>]
	hooksAfterRecovery                         // recovery.after: web_hook, revoke_active_sessions
	hooksAfterVerification                     // verification.after: web_hook
)

func checkHooks(p *Problems, key string, hooks []Hook, pos hookPosition) {
	for i, h := range hooks {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !oneOf(h.Hook, hookNames...) {
			p.add(k+".hook", "%q is not one of %s", h.Hook, strings.Join(hookNames, ", "))
			continue
		}
		if h.Hook != "web_hook" && len(h.Config) > 0 {
			p.add(k+".config", "the %s hook takes no settings; remove config", h.Hook)
		}
		if h.Hook != "web_hook" {
			continue
		}
		// can_interrupt and response.parse work in every position web
		// hooks run in, as in Kratos (in a before hook, where there is no
		// identity yet, an answer may only interrupt the flow).
		_, problems := ParseWebHook(k+".config", h.Config)
		*p = append(*p, problems...)
	}
}

// checkFlowURL reports a problem unless raw is an absolute http(s) URL or an
// absolute path on the public listener.
func checkFlowURL(p *Problems, key, raw string) {
	checkReturnURL(p, key, raw, true)
}

// checkAllowedReturnURL accepts what checkReturnURL does and, for native
// apps, a URL of the app's own scheme (exp://…, myapp://callback).
func checkAllowedReturnURL(p *Problems, key, raw string) {
	u, err := url.Parse(strings.Replace(raw, "*.", "wildcard.", 1))
	if err == nil && u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "" && u.Opaque == "" && u.User == nil {
		if !customScheme(u.Scheme) {
			p.add(key, "%q: the scheme %q cannot be a return URL; use https:// or an app scheme such as myapp://", raw, u.Scheme)
		}
		return
	}
	checkReturnURL(p, key, raw, true)
}

// customScheme mirrors api.CustomScheme (config does not import api).
func customScheme(scheme string) bool {
	s := strings.ToLower(scheme)
	switch s {
	case "javascript", "data", "vbscript", "file", "blob", "about", "filesystem", "view-source", "ftp", "ftps", "ws", "wss":
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z') && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// checkReturnURL accepts an absolute http(s) URL or a path starting with "/".
func checkReturnURL(p *Problems, key, raw string, required bool) {
	if raw == "" {
		if required {
			p.add(key, "is required")
		}
		return
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		return
	}
	u, err := url.Parse(strings.Replace(raw, "*.", "wildcard.", 1))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "%q is not an absolute http:// or https:// URL nor a path starting with \"/\"", raw)
	}
}
