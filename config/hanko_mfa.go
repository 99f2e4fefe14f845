package config

import "time"

// HankoMFA configures second factors in the Hanko flows (Hanko's mfa
// section): TOTP authenticator apps, security keys, MFA onboarding after
// registration and login, and trusted devices that skip the second factor.
type HankoMFA struct {
	Enabled               bool             `koanf:"enabled" doc:"Second factors are used: a user with one set up is asked for it after the first factor (login_otp), except after a passkey login."`
	Optional              bool             `koanf:"optional" doc:"Users may skip setting up a second factor when asked (mfa_method_chooser offers skip) and may delete their last one. With false, registration and login that acquire one (acquire_on_registration, acquire_on_login) issue no session before a user without a second factor sets one up (mfa_method_chooser without skip); a client that can be offered none gets platform_authenticator_required."`
	AcquireOnRegistration bool             `koanf:"acquire_on_registration" doc:"Registration offers setting up a second factor (mfa_method_chooser) before success. Hanko's default is true; Latchkey's is false, so clients that do not handle mfa_method_chooser keep registering as before."`
	AcquireOnLogin        bool             `koanf:"acquire_on_login" doc:"Login of a user without a second factor offers setting one up (mfa_method_chooser) before success."`
	DeviceTrustPolicy     string           `koanf:"device_trust_policy" doc:"After a second factor at login: never trust the device, always trust it, or prompt (the device_trust state offers trust_device and skip before success). A trusted device gets a cookie naming a device record stored with the user, its expiry and the hash of a random secret; logins of that user from it skip the second factor until the trust expires. A user keeps at most 10 trusted devices (the oldest is forgotten). A cookie that is forged, expired or another user's is ignored. With never, no device is trusted and existing cookies are ignored."`
	DeviceTrustDuration   time.Duration    `koanf:"device_trust_duration" doc:"How long a trusted device skips the second factor (at least 1m)."`
	DeviceTrustCookieName string           `koanf:"device_trust_cookie_name" doc:"Name of the signed cookie that marks a trusted device."`
	TOTP                  HankoMFATOTP     `koanf:"totp"`
	SecurityKeys          HankoMFASecurity `koanf:"security_keys"`
}

// HankoMFATOTP configures authenticator apps as a second factor.
type HankoMFATOTP struct {
	Enabled bool `koanf:"enabled" doc:"Authenticator apps (TOTP, RFC 6238) can be set up and used as a second factor; the secret is shared with the Kratos face's totp method."`
}

// HankoMFASecurity configures security keys as a second factor.
type HankoMFASecurity struct {
	Enabled                 bool   `koanf:"enabled" doc:"Security keys (WebAuthn credentials with mfa_only, the records the Kratos face's webauthn method uses as second factor) can be set up (mfa_method_chooser, profile security_key_create) and are asked for after a password or passcode login (login_security_key). As in Hanko the default is true; they need the WebAuthn relying party (selfservice.methods.passkey.config.rp) and are off by themselves without a usable one."`
	Limit                   int    `koanf:"limit" doc:"Maximum number of security keys per user."`
	UserVerification        string `koanf:"user_verification" doc:"WebAuthn user verification for security keys, at creation and at login: required, preferred or discouraged."`
	AuthenticatorAttachment string `koanf:"authenticator_attachment" doc:"Authenticators asked for when a security key is created: cross-platform (roaming keys), platform (built into the device; then offered only to clients that report a platform authenticator) or no_preference."`
	AttestationPreference   string `koanf:"attestation_preference" doc:"WebAuthn attestation conveyance when a security key is created: direct, indirect or none."`
}

func (m *HankoMFA) setDefaults() {
	*m = HankoMFA{Enabled: true, Optional: true, AcquireOnRegistration: false, AcquireOnLogin: false,
		DeviceTrustPolicy: "prompt", DeviceTrustDuration: 30 * 24 * time.Hour, DeviceTrustCookieName: "hanko-device-token",
		TOTP: HankoMFATOTP{Enabled: true}, SecurityKeys: HankoMFASecurity{Enabled: true, Limit: 10, UserVerification: "discouraged",
			AuthenticatorAttachment: "cross-platform", AttestationPreference: "direct"}}
}

func (m *HankoMFA) validate(p *Problems) {
	if !oneOf(m.DeviceTrustPolicy, "never", "always", "prompt") {
		p.add("hanko.mfa.device_trust_policy", "%q is not one of never, always, prompt", m.DeviceTrustPolicy)
	}
	if m.DeviceTrustDuration < time.Minute {
		p.add("hanko.mfa.device_trust_duration", "%s must be at least 1m", m.DeviceTrustDuration)
	}
	if !isCookieToken(m.DeviceTrustCookieName) {
		p.add("hanko.mfa.device_trust_cookie_name", "%q is not a valid cookie name", m.DeviceTrustCookieName)
	}
	sk := m.SecurityKeys
	if !oneOf(sk.UserVerification, "required", "preferred", "discouraged") {
		p.add("hanko.mfa.security_keys.user_verification", "%q is not one of required, preferred, discouraged", sk.UserVerification)
	}
	if !oneOf(sk.AuthenticatorAttachment, "platform", "cross-platform", "no_preference") {
		p.add("hanko.mfa.security_keys.authenticator_attachment", "%q is not one of platform, cross-platform, no_preference", sk.AuthenticatorAttachment)
	}
	if !oneOf(sk.AttestationPreference, "direct", "indirect", "none") {
		p.add("hanko.mfa.security_keys.attestation_preference", "%q is not one of direct, indirect, none", sk.AttestationPreference)
	}
	if m.SecurityKeys.Limit < 1 {
		p.add("hanko.mfa.security_keys.limit", "%d must be at least 1", m.SecurityKeys.Limit)
	}
	if m.Enabled && !m.TOTP.Enabled && !m.SecurityKeys.Enabled {
		p.add("hanko.mfa.enabled", "true needs hanko.mfa.totp.enabled or hanko.mfa.security_keys.enabled")
	}
}
