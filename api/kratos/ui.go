package kratos

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/latchkey/latchkey/schema"
)

// Text is Kratos' uiText: a message with its numeric id, English text, type
// and optional context (notes §4).
type Text struct {
	ID      int            `json:"id"`
	Text    string         `json:"text"`
	Type    string         `json:"type"`
	Context map[string]any `json:"context,omitempty"`
}

// The message types.
const (
	textInfo    = "info"
	textError   = "error"
	textSuccess = "success"
)

// Kratos' message ids used by the self-service flows (text/id.go). Part B
// adds the recovery and verification ones next to these.
const (
	MsgLoginReAuth             = 1010003
	MsgLoginMFA                = 1010004
	MsgLoginPassword           = 1010022
	MsgLogin                   = 1010001
	MsgRegistration            = 1040001
	MsgRegistrationBack        = 1040008
	MsgRegistrationChooseCred  = 1040009
	MsgSettingsSaved           = 1050001
	MsgLabelPassword           = 1070001
	MsgLabelGenerated          = 1070002
	MsgLabelSave               = 1070003
	MsgLabelID                 = 1070004
	MsgLabelContinue           = 1070009
	MsgValidationGeneric       = 4000001
	MsgValidationRequired      = 4000002
	MsgInvalidCredentials      = 4000006
	MsgDuplicateCredentials    = 4000007
	MsgAddressNotVerified      = 4000010
	MsgPasswordPolicyViolation = 4000005
	MsgPasswordTooSimilar      = 4000031
	MsgPasswordMinLength       = 4000032
	MsgPasswordMaxLength       = 4000033
	MsgPasswordTooManyBreaches = 4000034
	MsgPasswordNewSameAsOld    = 4000039
	MsgLoginFlowExpired        = 4010001
	MsgLoginNoStrategy         = 4010002
	MsgRegistrationNoStrategy  = 4010003
	MsgSettingsNoStrategy      = 4010004
	MsgLoginRetrySuccess       = 4010007
	MsgIdentityDisabled        = 4010011
	MsgRegistrationExpired     = 4040001
	MsgRegistrationRetry       = 4040002
	MsgSettingsExpired         = 4050001
)

// newText returns the message id with Kratos' English text; args fill the
// text's verbs.
func newText(id int, typ string, ctx map[string]any, text string, args ...any) Text {
	if len(args) > 0 {
		text = fmt.Sprintf(text, args...)
	}
	return Text{ID: id, Text: text, Type: typ, Context: ctx}
}

func infoText(id int, text string) Text { return Text{ID: id, Text: text, Type: textInfo} }

// Labels and messages with fixed texts.
var (
	labelPassword     = infoText(MsgLabelPassword, "Password")
	labelID           = infoText(MsgLabelID, "ID")
	labelSave         = infoText(MsgLabelSave, "Save")
	labelContinue     = infoText(MsgLabelContinue, "Continue")
	labelSignIn       = infoText(MsgLogin, "Sign in")
	labelSignInPW     = infoText(MsgLoginPassword, "Sign in with password")
	labelSignUp       = infoText(MsgRegistration, "Sign up")
	labelBack         = infoText(MsgRegistrationBack, "Back")
	msgReAuth         = infoText(MsgLoginReAuth, "Please confirm this action by verifying that it is you.")
	msgMFA            = infoText(MsgLoginMFA, "Please complete the second authentication challenge.")
	msgChooseCred     = infoText(MsgRegistrationChooseCred, "Please choose a credential to authenticate yourself with.")
	msgSettingsSaved  = Text{ID: MsgSettingsSaved, Text: "Your changes have been saved!", Type: textSuccess}
	msgInvalidCreds   = Text{ID: MsgInvalidCredentials, Type: textError, Text: "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number."}
	msgDuplicateCreds = Text{ID: MsgDuplicateCredentials, Type: textError, Text: "An account with the same identifier (email, phone, username, ...) exists already."}
	msgNotVerified    = Text{ID: MsgAddressNotVerified, Type: textError, Text: "Account not active yet. Did you forget to verify your email address?"}
	msgDisabled       = Text{ID: MsgIdentityDisabled, Type: textError, Text: "This account has been disabled. Please contact support for assistance."}
	msgSameAsOld      = Text{ID: MsgPasswordNewSameAsOld, Type: textError, Text: "The new password must be different from the old password."}
	msgTooSimilar     = Text{ID: MsgPasswordTooSimilar, Type: textError, Text: "The password can not be used because it is too similar to the identifier."}
)

// retryText is the message for a flow that was already completed.
func retryText(kind string) Text {
	id := MsgLoginRetrySuccess
	if kind == "registration" {
		id = MsgRegistrationRetry
	}
	return Text{ID: id, Type: textError, Text: "The request was already completed successfully and can not be retried."}
}

// noStrategyText is the message for a body whose method no strategy of the
// flow handles.
func noStrategyText(kind string) Text {
	switch kind {
	case "registration":
		return Text{ID: MsgRegistrationNoStrategy, Type: textError, Text: "Could not find a strategy to sign you up with. Did you fill out the form correctly?"}
	case "settings":
		return Text{ID: MsgSettingsNoStrategy, Type: textError, Text: "Could not find a strategy to update your settings. Did you fill out the form correctly?"}
	case "recovery":
		return Text{ID: 4010005, Type: textError, Text: "Could not find a strategy to recover your account with. Did you fill out the form correctly?"}
	case "verification":
		return Text{ID: 4010006, Type: textError, Text: "Could not find a strategy to verify your account with. Did you fill out the form correctly?"}
	}
	return Text{ID: MsgLoginNoStrategy, Type: textError, Text: "Could not find a strategy to log you in with. Did you fill out the form correctly?"}
}

// genericText is 4000001 with a free text, the form Kratos folds any 400
// error into.
func genericText(reason string) Text {
	return Text{ID: MsgValidationGeneric, Type: textError, Text: reason, Context: map[string]any{"reason": reason}}
}

// requiredText is 4000002 for a missing property.
func requiredText(property string) Text {
	return Text{ID: MsgValidationRequired, Type: textError, Text: fmt.Sprintf("Property %s is missing.", property),
		Context: map[string]any{"property": property}}
}

// expiredText is the message put on the replacement of an expired flow.
func expiredText(kind string, minutes float64, expiredAt int64, expiredAtRFC string) Text {
	ids := map[string]int{"login": MsgLoginFlowExpired, "registration": MsgRegistrationExpired,
		"settings": MsgSettingsExpired, "recovery": 4060005, "verification": 4070005}
	return Text{ID: ids[kind], Type: textError,
		Text:    fmt.Sprintf("The %s flow expired %.2f minutes ago, please try again.", kind, minutes),
		Context: map[string]any{"expired_at": expiredAtRFC, "expired_at_unix": expiredAt}}
}

// UI is Kratos' uiContainer.
type UI struct {
	Action   string `json:"action"`
	Method   string `json:"method"`
	Nodes    []Node `json:"nodes"`
	Messages []Text `json:"messages,omitempty"`
}

// Node is Kratos' uiNode.
type Node struct {
	Type       string     `json:"type"`
	Group      string     `json:"group"`
	Attributes Attributes `json:"attributes"`
	Messages   []Text     `json:"messages"`
	Meta       Meta       `json:"meta"`
}

// Meta is a node's meta: its label, when it has one.
type Meta struct {
	Label *Text `json:"label,omitempty"`
}

// Attributes are the attributes of an input node (the only node type the
// password and profile methods emit; part B's anchor nodes add fields here
// with omitempty). Field order follows Kratos' marshalling.
type Attributes struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Value        any    `json:"value,omitempty"`
	Required     bool   `json:"required,omitempty"`
	Autocomplete string `json:"autocomplete,omitempty"`
	Label        *Text  `json:"label,omitempty"`
	Pattern      string `json:"pattern,omitempty"`
	MaxLength    int    `json:"maxlength,omitempty"`
	Disabled     bool   `json:"disabled"`
	// Onclick and Onload are the deprecated script calls of WebAuthn
	// buttons and inputs; OnclickTrigger and OnloadTrigger name the
	// function of the WebAuthn script (webauthn.js) to call.
	Onclick        string `json:"onclick,omitempty"`
	OnclickTrigger string `json:"onclickTrigger,omitempty"`
	Onload         string `json:"onload,omitempty"`
	OnloadTrigger  string `json:"onloadTrigger,omitempty"`
	NodeType       string `json:"node_type"`
	// Href, Title and AnchorID are the attributes of anchor nodes
	// (node_type "a"), which MarshalJSON writes in Kratos' anchor shape;
	// AnchorID is also a script node's id.
	Href     string `json:"href,omitempty"`
	Title    *Text  `json:"title,omitempty"`
	AnchorID string `json:"id,omitempty"`
	// Src, Async, ReferrerPolicy, CrossOrigin, Integrity and Nonce are the
	// attributes of script nodes (node_type "script", Type its MIME type),
	// which MarshalJSON writes in Kratos' script shape.
	Src            string `json:"-"`
	Async          bool   `json:"-"`
	ReferrerPolicy string `json:"-"`
	CrossOrigin    string `json:"-"`
	Integrity      string `json:"-"`
	Nonce          string `json:"-"`
	// Other, when set, is written instead of the fields above: the
	// attributes of an img or text node (strategy_totp.go).
	Other any `json:"-"`
}

// MarshalJSON writes anchor nodes as uiNodeAnchorAttributes (href, title,
// id, node_type), script nodes as uiNodeScriptAttributes and every other
// node as its input attributes.
func (a Attributes) MarshalJSON() ([]byte, error) {
	if a.Other != nil {
		return json.Marshal(a.Other)
	}
	if a.NodeType == "script" {
		return json.Marshal(struct {
			Src            string `json:"src"`
			Async          bool   `json:"async"`
			ReferrerPolicy string `json:"referrerpolicy"`
			CrossOrigin    string `json:"crossorigin"`
			Integrity      string `json:"integrity"`
			Type           string `json:"type"`
			ID             string `json:"id"`
			Nonce          string `json:"nonce"`
			NodeType       string `json:"node_type"`
		}{a.Src, a.Async, a.ReferrerPolicy, a.CrossOrigin, a.Integrity, a.Type, a.AnchorID, a.Nonce, a.NodeType})
	}
	if a.NodeType == "a" {
		return json.Marshal(struct {
			Href     string `json:"href"`
			Title    *Text  `json:"title"`
			ID       string `json:"id"`
			NodeType string `json:"node_type"`
		}{a.Href, a.Title, a.AnchorID, a.NodeType})
	}
	type plain Attributes
	return json.Marshal(plain(a))
}

// The node groups.
const (
	groupDefault  = "default"
	groupPassword = "password"
	groupProfile  = "profile"
	groupPasskey  = "passkey"
	groupWebAuthn = "webauthn"
)

// inputNode returns an input node.
func inputNode(group, name, typ string, required bool, label *Text) Node {
	return Node{Type: "input", Group: group, Messages: []Text{},
		Attributes: Attributes{Name: name, Type: typ, Required: required, NodeType: "input"},
		Meta:       Meta{Label: label}}
}

// submitNode returns a submit button with a value (method=password, …).
func submitNode(group, name, value string, label Text) Node {
	n := inputNode(group, name, "submit", false, &label)
	n.Attributes.Value = value
	return n
}

func textPtr(t Text) *Text { return &t }

// traitField is one leaf trait of an identity schema, as a UI node needs it.
type traitField struct {
	Name         string // traits.email, traits.name.first
	Type         string // text, number, checkbox, email, tel, url, datetime-local, date
	Required     bool
	Autocomplete string
	Pattern      string
	Title        string
	Identifier   bool // a password login identifier (ory.sh/kratos extension)
	// PasskeyName names new passkeys (credentials.passkey.display_name);
	// WebAuthnID is a security key login identifier
	// (credentials.webauthn.identifier).
	PasskeyName bool
	WebAuthnID  bool
}

// schemaFields returns traitFields of sch, read once per schema: a loaded
// schema does not change, and every login or registration form rendered
// needs its fields (parsing the document was most of a login form's
// render). The slice is shared: callers must not modify it.
func (s *SelfService) schemaFields(sch *schema.Schema) []traitField {
	if f, ok := s.traitCache.Load(sch); ok {
		return f.([]traitField)
	}
	f := slices.Clip(traitFields(sch.Raw()))
	s.traitCache.Store(sch, f)
	return f
}

// traitFields reads the traits of an identity schema document ({"properties":
// {"traits": …}}) and returns its leaf fields in Kratos' order (properties
// sorted by name, nested objects flattened with dots; arrays are not
// rendered). It never fails: parts it does not understand are skipped.
func traitFields(raw json.RawMessage) []traitField {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil
	}
	props, _ := doc["properties"].(map[string]any)
	traits, _ := props["traits"].(map[string]any)
	var out []traitField
	walkTraits(traits, "traits", &out)
	return out
}

func walkTraits(node map[string]any, prefix string, out *[]traitField) {
	props, _ := node["properties"].(map[string]any)
	required := map[string]bool{}
	if rs, ok := node["required"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, ok := props[n].(map[string]any)
		if !ok {
			continue
		}
		name := prefix + "." + n
		typ, _ := p["type"].(string)
		if typ == "" {
			if ts, ok := p["type"].([]any); ok && len(ts) > 0 {
				typ, _ = ts[0].(string)
			}
		}
		switch typ {
		case "object":
			walkTraits(p, name, out)
			continue
		case "array":
			continue
		}
		f := traitField{Name: name, Type: "text", Required: required[n]}
		switch typ {
		case "number", "integer":
			f.Type = "number"
		case "boolean":
			f.Type = "checkbox"
		}
		switch format, _ := p["format"].(string); format {
		case "email":
			f.Type, f.Autocomplete = "email", "email"
		case "tel":
			f.Type, f.Autocomplete = "tel", "tel"
		case "uri":
			f.Type, f.Autocomplete = "url", "url"
		case "date-time":
			f.Type = "datetime-local"
		case "date":
			f.Type = "date"
		}
		f.Pattern, _ = p["pattern"].(string)
		f.Title, _ = p["title"].(string)
		if ext, ok := p["ory.sh/kratos"].(map[string]any); ok {
			creds, _ := ext["credentials"].(map[string]any)
			pw, _ := creds["password"].(map[string]any)
			f.Identifier, _ = pw["identifier"].(bool)
			pk, _ := creds["passkey"].(map[string]any)
			f.PasskeyName, _ = pk["display_name"].(bool)
			wa, _ := creds["webauthn"].(map[string]any)
			f.WebAuthnID, _ = wa["identifier"].(bool)
		}
		*out = append(*out, f)
	}
}

// traitNodes renders the trait fields in group with the values found in
// traits (a JSON object); hidden renders them as hidden inputs, as Kratos'
// second registration screen does.
func traitNodes(fields []traitField, group string, traits json.RawMessage, hidden bool) []Node {
	vals := traitValues(traits)
	nodes := make([]Node, 0, len(fields))
	for _, f := range fields {
		nodes = append(nodes, traitNode(f, group, vals, hidden))
	}
	return nodes
}

// hiddenTraitNodes renders the trait fields as hidden inputs carrying the
// values found in traits, except the fields that have messages in
// nodeMessages: those stay visible inputs, so that the user sees and can
// correct the trait that failed (Kratos keeps a trait with an error visible
// on the credentials screen).
func hiddenTraitNodes(fields []traitField, group string, traits json.RawMessage, nodeMessages map[string][]Text) []Node {
	vals := traitValues(traits)
	nodes := make([]Node, 0, len(fields))
	for _, f := range fields {
		nodes = append(nodes, traitNode(f, group, vals, len(nodeMessages[f.Name]) == 0))
	}
	return nodes
}

// traitValues decodes a traits object (nil when it is empty or not an
// object).
func traitValues(traits json.RawMessage) map[string]any {
	var vals map[string]any
	if len(traits) > 0 {
		_ = json.Unmarshal(traits, &vals)
	}
	return vals
}

// traitNode renders one trait field with its value from vals.
func traitNode(f traitField, group string, vals map[string]any, hidden bool) Node {
	var label *Text
	if f.Title != "" && !hidden {
		label = &Text{ID: MsgLabelGenerated, Text: f.Title, Type: textInfo,
			Context: map[string]any{"title": f.Title, "name": f.Name}}
	}
	typ := f.Type
	if hidden {
		typ = "hidden"
	}
	n := inputNode(group, f.Name, typ, f.Required && !hidden, label)
	if !hidden {
		n.Attributes.Autocomplete = f.Autocomplete
		n.Attributes.Pattern = f.Pattern
	}
	if v, ok := lookupPath(vals, strings.Split(strings.TrimPrefix(f.Name, "traits."), ".")); ok {
		n.Attributes.Value = v
	}
	return n
}

func lookupPath(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// attachMessages puts node messages (keyed by node name) on the nodes that
// carry those names; messages for names no node has go to the container.
func attachMessages(ui *UI, byNode map[string][]Text) {
	if len(byNode) == 0 {
		return
	}
	used := map[string]bool{}
	for i := range ui.Nodes {
		n := &ui.Nodes[i]
		if n.Attributes.Type == "submit" || n.Attributes.Type == "hidden" && n.Attributes.Name == "csrf_token" {
			continue
		}
		if msgs, ok := byNode[n.Attributes.Name]; ok && !used[n.Attributes.Name] {
			n.Messages = append(n.Messages, msgs...)
			used[n.Attributes.Name] = true
		}
	}
	names := make([]string, 0, len(byNode))
	for name := range byNode {
		if !used[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ui.Messages = append(ui.Messages, byNode[name]...)
	}
}
