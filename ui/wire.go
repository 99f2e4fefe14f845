package ui

import "encoding/json"

// The subset of the Kratos wire shapes the pages read. Unknown fields are
// ignored, so the pages keep working when the face adds some.

// flowJSON is a self-service flow (login, registration, settings,
// recovery, verification) as GET /self-service/<flow>/flows answers it.
type flowJSON struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	State        string        `json:"state"`
	ReturnTo     string        `json:"return_to"`
	Refresh      bool          `json:"refresh"`
	RequestedAAL string        `json:"requested_aal"`
	UI           uiJSON        `json:"ui"`
	Identity     *identityJSON `json:"identity"`
}

// uiJSON is Kratos' uiContainer.
type uiJSON struct {
	Action   string     `json:"action"`
	Method   string     `json:"method"`
	Nodes    []nodeJSON `json:"nodes"`
	Messages []textJSON `json:"messages"`
}

// nodeJSON is Kratos' uiNode.
type nodeJSON struct {
	Type       string     `json:"type"`
	Group      string     `json:"group"`
	Attributes attrsJSON  `json:"attributes"`
	Messages   []textJSON `json:"messages"`
	Meta       struct {
		Label *textJSON `json:"label"`
	} `json:"meta"`
}

// attrsJSON holds the attributes of every node type: input, a, img, text
// and script.
type attrsJSON struct {
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Value          any       `json:"value"`
	Required       bool      `json:"required"`
	Autocomplete   string    `json:"autocomplete"`
	Pattern        string    `json:"pattern"`
	MaxLength      int       `json:"maxlength"`
	Disabled       bool      `json:"disabled"`
	NodeType       string    `json:"node_type"`
	Label          *textJSON `json:"label"`
	Onclick        string    `json:"onclick"`
	OnclickTrigger string    `json:"onclickTrigger"`
	Onload         string    `json:"onload"`
	OnloadTrigger  string    `json:"onloadTrigger"`
	Integrity      string    `json:"integrity"`
	Href           string    `json:"href"`
	Title          *textJSON `json:"title"`
	ID             string    `json:"id"`
	Text           *textJSON `json:"text"`
	Src            string    `json:"src"`
	Width          int       `json:"width"`
	Height         int       `json:"height"`
}

// textJSON is Kratos' uiText.
type textJSON struct {
	ID      int            `json:"id"`
	Text    string         `json:"text"`
	Type    string         `json:"type"`
	Context map[string]any `json:"context"`
}

// identityJSON is the part of an identity the pages show.
type identityJSON struct {
	ID                  string          `json:"id"`
	SchemaID            string          `json:"schema_id"`
	Traits              json.RawMessage `json:"traits"`
	VerifiableAddresses []struct {
		Value    string `json:"value"`
		Verified bool   `json:"verified"`
	} `json:"verifiable_addresses"`
}

// sessionJSON is the part of a session (GET /sessions/whoami, GET
// /sessions) the landing page and the settings' session list show.
type sessionJSON struct {
	ID                          string        `json:"id"`
	Active                      bool          `json:"active"`
	IssuedAt                    string        `json:"issued_at"`
	Devices                     []deviceJSON  `json:"devices"`
	AuthenticatorAssuranceLevel string        `json:"authenticator_assurance_level"`
	AuthenticatedAt             string        `json:"authenticated_at"`
	ExpiresAt                   string        `json:"expires_at"`
	Identity                    *identityJSON `json:"identity"`
	AuthenticationMethods       []struct {
		Method string `json:"method"`
	} `json:"authentication_methods"`
}

// deviceJSON is Kratos' sessionDevice.
type deviceJSON struct {
	ID        string `json:"id"`
	IPAddress string `json:"ip_address"`
	UserAgent string `json:"user_agent"`
	Location  string `json:"location"`
}

// genericErrorJSON is Kratos' genericError.
type genericErrorJSON struct {
	ID      string         `json:"id"`
	Code    int            `json:"code"`
	Status  string         `json:"status"`
	Reason  string         `json:"reason"`
	Message string         `json:"message"`
	Request string         `json:"request"`
	Details map[string]any `json:"details"`
}

// errorEnvelopeJSON is the body of an error answer: {"error": …} with, for
// some errors, redirect_browser_to beside it.
type errorEnvelopeJSON struct {
	Error             genericErrorJSON `json:"error"`
	RedirectBrowserTo string           `json:"redirect_browser_to"`
}

// flowErrorJSON is a stored self-service error (GET /self-service/errors).
type flowErrorJSON struct {
	ID    string           `json:"id"`
	Error genericErrorJSON `json:"error"`
}

// logoutJSON is GET /self-service/logout/browser's answer.
type logoutJSON struct {
	LogoutURL string `json:"logout_url"`
}
