package core

import "time"

// AAL is an authenticator assurance level.
type AAL string

// The assurance levels Kratos reports.
const (
	AAL0 AAL = "aal0"
	AAL1 AAL = "aal1"
	AAL2 AAL = "aal2"
	AAL3 AAL = "aal3"
)

// AuthMethod is one authentication step completed in a session (an "amr"
// entry): the credential type used, its level and when it completed.
type AuthMethod struct {
	Method      string    `json:"method"`
	AAL         AAL       `json:"aal"`
	CompletedAt time.Time `json:"completed_at"`
	Provider    string    `json:"provider,omitempty"`
}

// Device is an endpoint a session was used from.
type Device struct {
	ID        string `json:"id"`
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Location  string `json:"location,omitempty"`
}

// Session is an authenticated session. Both faces share the row: the Kratos
// face hands out an opaque token whose SHA-256 is TokenHash; the Hanko face
// hands out a signed JWT whose session_id claim is ID.
type Session struct {
	ID              string
	IdentityID      string
	TokenHash       []byte // SHA-256 of the opaque session token; never the token itself
	LogoutTokenHash []byte // SHA-256 of the logout token, nil when none
	Active          bool
	AAL             AAL
	Methods         []AuthMethod
	Devices         []Device
	IssuedAt        time.Time
	AuthenticatedAt time.Time
	ExpiresAt       time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Usable reports whether the session is active and unexpired at now.
func (s *Session) Usable(now time.Time) bool { return s.Active && now.Before(s.ExpiresAt) }

// ComputeAAL returns the level the session's methods reach, by Kratos' rule:
// no method is aal0; aal2 needs at least one aal1 and one aal2 method.
func (s *Session) ComputeAAL() AAL {
	if len(s.Methods) == 0 {
		return AAL0
	}
	var one, two bool
	for _, m := range s.Methods {
		switch m.AAL {
		case AAL1:
			one = true
		case AAL2:
			two = true
		}
	}
	if one && two {
		return AAL2
	}
	return AAL1
}
