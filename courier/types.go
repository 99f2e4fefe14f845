package courier

import "sort"

// The template types of the Kratos face. The names are Kratos' own
// template_type values, so an operator's Kratos templates and API clients
// recognise them.
const (
	TypeRecoveryCodeValid       = "recovery_code_valid"
	TypeRecoveryCodeInvalid     = "recovery_code_invalid"
	TypeRecoveryValid           = "recovery_valid"
	TypeRecoveryInvalid         = "recovery_invalid"
	TypeVerificationCodeValid   = "verification_code_valid"
	TypeVerificationCodeInvalid = "verification_code_invalid"
	TypeVerificationValid       = "verification_valid"
	TypeVerificationInvalid     = "verification_invalid"
	TypeLoginCodeValid          = "login_code_valid"
	TypeRegistrationCodeValid   = "registration_code_valid"
)

// The template types of the Hanko face. The names are Hanko's e-mail types,
// as they appear in its email.send webhook.
const (
	TypeHankoLogin                      = "login"
	TypeHankoEmailVerification          = "email_verification"
	TypeHankoRecovery                   = "recovery"
	TypeHankoEmailLoginAttempted        = "email_login_attempted"
	TypeHankoEmailRegistrationAttempted = "email_registration_attempted"
	TypeHankoPasswordUpdate             = "password_update"
	TypeHankoEmailCreate                = "email_create"
	TypeHankoEmailDelete                = "email_delete"
	TypeHankoPrimaryEmailUpdate         = "primary_email_update"
	TypeHankoPasskeyCreate              = "passkey_create"
	TypeHankoMFACreate                  = "mfa_create"
	TypeHankoMFADelete                  = "mfa_delete"
)

// kind describes what a template type needs and shows.
type kind struct {
	// code is the data key holding the one-time code shown prominently,
	// required when set.
	code string
	// link is the data key holding the link shown as a button; required
	// when linkRequired, else shown only when present.
	link         string
	linkRequired bool
	// sms is true when the type has an SMS body.
	sms bool
	// dir is the path of the type in an override directory, relative to
	// courier.template_override_path: Kratos' layout for Kratos types
	// ("recovery_code/valid"), "hanko/<type>" for Hanko types.
	dir string
}

var kinds = map[string]kind{
	TypeRecoveryCodeValid:       {code: "RecoveryCode", sms: true, dir: "recovery_code/valid"},
	TypeRecoveryCodeInvalid:     {dir: "recovery_code/invalid"},
	TypeRecoveryValid:           {link: "RecoveryURL", linkRequired: true, dir: "recovery/valid"},
	TypeRecoveryInvalid:         {dir: "recovery/invalid"},
	TypeVerificationCodeValid:   {code: "VerificationCode", link: "VerificationURL", sms: true, dir: "verification_code/valid"},
	TypeVerificationCodeInvalid: {dir: "verification_code/invalid"},
	TypeVerificationValid:       {link: "VerificationURL", linkRequired: true, dir: "verification/valid"},
	TypeVerificationInvalid:     {dir: "verification/invalid"},
	TypeLoginCodeValid:          {code: "LoginCode", sms: true, dir: "login_code/valid"},
	TypeRegistrationCodeValid:   {code: "RegistrationCode", sms: true, dir: "registration_code/valid"},

	TypeHankoLogin:                      {code: "Code", sms: true, dir: "hanko/login"},
	TypeHankoEmailVerification:          {code: "Code", sms: true, dir: "hanko/email_verification"},
	TypeHankoRecovery:                   {code: "Code", sms: true, dir: "hanko/recovery"},
	TypeHankoEmailLoginAttempted:        {dir: "hanko/email_login_attempted"},
	TypeHankoEmailRegistrationAttempted: {dir: "hanko/email_registration_attempted"},
	TypeHankoPasswordUpdate:             {dir: "hanko/password_update"},
	TypeHankoEmailCreate:                {dir: "hanko/email_create"},
	TypeHankoEmailDelete:                {dir: "hanko/email_delete"},
	TypeHankoPrimaryEmailUpdate:         {dir: "hanko/primary_email_update"},
	TypeHankoPasskeyCreate:              {dir: "hanko/passkey_create"},
	TypeHankoMFACreate:                  {dir: "hanko/mfa_create"},
	TypeHankoMFADelete:                  {dir: "hanko/mfa_delete"},
}

// TemplateTypes returns every template type the courier knows, sorted.
func TemplateTypes() []string {
	out := make([]string, 0, len(kinds))
	for t := range kinds {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// HasSMS reports whether the template type has an SMS body; it is false for
// unknown types.
func HasSMS(templateType string) bool { return kinds[templateType].sms }

// secretKeys are the template data keys that hold codes and links; the
// development log sender prints them.
var secretKeys = []string{
	"Code", "LoginCode", "RegistrationCode", "RecoveryCode", "VerificationCode",
	"RecoveryURL", "VerificationURL",
}
