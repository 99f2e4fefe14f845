package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
)

// page is what the layout template renders.
type page struct {
	Title    string
	Lead     string
	Account  string // "Signed in as …", when known
	Messages []message
	Forms    []form
	Error    *errorView
	Details  []detail
	// Sessions is the settings page's "Sessions and devices" section.
	Sessions   *sessionsView
	Links      []link
	Stylesheet string
	ThemeCSS   string
	Theme      theme
	Home       string
	// Script is the WebAuthn script the flow asks for (passkeys, security
	// keys), loaded with Nonce, the page's Content-Security-Policy nonce.
	Script *script
	Nonce  string
	// Lang is the page's language; Languages the switcher's links.
	Lang      string
	Languages []languageLink
	tr        translator
}

// script is a WebAuthn script tag: the face's own webauthn.js only.
type script struct {
	Src       string
	Integrity string
}

// form is one HTML form posting to a flow's ui.action.
type form struct {
	Title    string
	Action   string
	Method   string
	Messages []message
	Fields   []field
}

// field is one rendered node.
type field struct {
	Kind         string // hidden, input, checkbox, submit, text, image, anchor, divider
	ID           string
	Name         string
	Type         string
	Value        string
	Label        string
	Required     bool
	Disabled     bool
	Checked      bool
	Autocomplete string
	Pattern      string
	MaxLength    int
	Autofocus    bool
	// Trigger names the WebAuthn script function a script button calls on
	// click, or a hidden input calls on load (oryPasskeyLogin, …).
	Trigger string
	// NoValidate marks a submit button that must skip the browser's
	// checks, because required inputs of another method are on the form.
	NoValidate bool
	Secondary  bool
	Href       string
	Src        template.URL
	Width      int
	Height     int
	Text       string
	Secrets    []string
	Messages   []message
	// LabelID and LabelContext are the label's Kratos message id and
	// context; TextID an anchor title's id (for translation).
	LabelID      int
	LabelContext map[string]any
	TextID       int
}

// message is a uiText as shown: its class follows its type.
type message struct {
	ID      int
	Class   string // info, error, success
	Text    string
	Context map[string]any
}

// link is a navigation link below the card, with optional leading text.
type link struct {
	Prefix string
	Text   string
	Href   string
}

// errorView is an error shown on the error page.
type errorView struct {
	Code    int
	Status  string
	Message string
	Reason  string
	ID      string
	Request string
	// The words "Error" and "Request", translated.
	ErrorLabel, RequestLabel string
}

// detail is one line of a definition list (the landing page's session).
type detail struct {
	Term, Value string
}

func messages(ts []textJSON) []message {
	out := make([]message, 0, len(ts))
	for _, t := range ts {
		out = append(out, newMessage(t))
	}
	return out
}

func newMessage(t textJSON) message {
	class := t.Type
	if class != "error" && class != "success" {
		class = "info"
	}
	return message{ID: t.ID, Class: class, Text: t.Text, Context: t.Context}
}

// inputTypes are the input types rendered as such; any other is "text".
var inputTypes = map[string]bool{
	"text": true, "email": true, "password": true, "number": true, "tel": true, "url": true,
	"date": true, "datetime-local": true, "hidden": true, "submit": true, "button": true, "checkbox": true,
}

// groupTitles name the settings forms, one per method group.
var groupTitles = map[string]string{
	"profile": "Profile", "password": "Password", "totp": "Authenticator app", "lookup_secret": "Recovery codes",
	"webauthn": "Security keys", "passkey": "Passkeys", "oidc": "Linked accounts", "code": "One-time codes",
}

// flowForms turns a flow's ui container into forms. Settings get one form
// per method group (each with the default group's nodes, such as the CSRF
// token), as Ory's reference UI renders them, so saving one section never
// submits another; every other flow is one form whose groups are separated
// by an "or" divider.
//
// Inputs that need the WebAuthn script (buttons and inputs with a trigger)
// are rendered only when scripted, i.e. the page loads the script.
func flowForms(ui uiJSON, perGroup, scripted bool) []form {
	action, method := ui.Action, strings.ToUpper(ui.Method)
	if method != "GET" {
		method = "POST"
	}
	if !scripted {
		ui.Nodes = withoutTriggers(ui.Nodes)
	}
	if !perGroup {
		return []form{{Action: action, Method: method, Fields: fields(ui.Nodes, true)}}
	}
	// A settings page opens on the account's current values: no field
	// takes the focus.
	var defaults []nodeJSON
	var order []string
	byGroup := map[string][]nodeJSON{}
	for _, n := range ui.Nodes {
		if n.Group == "default" {
			defaults = append(defaults, n)
			continue
		}
		if _, ok := byGroup[n.Group]; !ok {
			order = append(order, n.Group)
		}
		byGroup[n.Group] = append(byGroup[n.Group], n)
	}
	forms := make([]form, 0, len(order))
	for _, g := range order {
		nodes := append(append([]nodeJSON{}, defaults...), byGroup[g]...)
		fs := fields(nodes, false)
		for i := range fs {
			fs[i].Autofocus = false
		}
		if !hasVisible(fs) {
			continue // only hidden inputs remain (a script-only method)
		}
		title := groupTitles[g]
		if title == "" {
			title = strings.ToUpper(g[:1]) + strings.ReplaceAll(g[1:], "_", " ")
		}
		forms = append(forms, form{Title: title, Action: action, Method: method, Fields: fs})
	}
	if len(forms) == 0 && len(defaults) > 0 {
		forms = append(forms, form{Action: action, Method: method, Fields: fields(defaults, false)})
	}
	// IDs must be unique on the page: the default nodes repeat per form.
	for i := range forms {
		for j := range forms[i].Fields {
			if forms[i].Fields[j].ID != "" {
				forms[i].Fields[j].ID = fmt.Sprintf("f%d-%s", i, forms[i].Fields[j].ID)
			}
		}
	}
	return forms
}

// withoutTriggers leaves out the nodes that only work with the WebAuthn
// script: buttons that call it, and the hidden inputs it fills.
func withoutTriggers(nodes []nodeJSON) []nodeJSON {
	var out []nodeJSON
	for _, n := range nodes {
		a := n.Attributes
		if n.Type == "input" && (a.OnclickTrigger != "" || a.Onclick != "") {
			continue
		}
		out = append(out, n)
	}
	return out
}

// webauthnTriggers are the functions of the WebAuthn script a node may
// name (Kratos' onclickTrigger and onloadTrigger values).
var webauthnTriggers = map[string]bool{
	"oryPasskeyLogin": true, "oryPasskeyLoginAutocompleteInit": true, "oryPasskeyRegistration": true,
	"oryPasskeySettingsRegistration": true, "oryWebAuthnLogin": true, "oryWebAuthnRegistration": true,
}

// trigger returns the WebAuthn script function a node calls: its trigger
// attribute, else the function its deprecated script attribute calls
// ("window.oryPasskeyLogin()" or "window.__oryPasskeyLogin()"); "" when it
// names none of the script's functions.
func trigger(name, script string) string {
	if name == "" && script != "" {
		name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(script), "window."), "()")
		name = strings.TrimPrefix(name, "__")
	}
	if webauthnTriggers[name] {
		return name
	}
	return ""
}

func hasVisible(fs []field) bool {
	for _, f := range fs {
		if f.Kind != "hidden" {
			return true
		}
	}
	return false
}

// fields renders nodes in their order. Script nodes and buttons that need a
// script are left out. With dividers, a divider goes between the nodes of
// two method groups.
func fields(nodes []nodeJSON, dividers bool) []field {
	// Groups whose visible required inputs would block another method's
	// submit button in the browser.
	requiredIn := map[string]bool{}
	for _, n := range nodes {
		a := n.Attributes
		if n.Type == "input" && a.Required && a.Type != "hidden" && a.Type != "submit" && a.Type != "button" && n.Group != "default" {
			requiredIn[n.Group] = true
		}
	}
	var out, backs []field
	lastGroup := ""
	submits := 0
	focused := false
	for i, n := range nodes {
		a := n.Attributes
		f := field{ID: "n" + strconv.Itoa(i), Messages: messages(n.Messages)}
		if n.Meta.Label != nil {
			f.Label, f.LabelID, f.LabelContext = n.Meta.Label.Text, n.Meta.Label.ID, n.Meta.Label.Context
		}
		switch n.Type {
		case "input":
			if a.Onclick != "" || a.OnclickTrigger != "" {
				// A button of the WebAuthn script (flowForms left these
				// out unless the page loads it).
				if f.Trigger = trigger(a.OnclickTrigger, a.Onclick); f.Trigger == "" {
					continue
				}
				f.Kind, f.Name, f.Value, f.Disabled = "scriptbutton", a.Name, stringValue(a.Value), a.Disabled
				if f.Label == "" {
					f.Label = a.Name
				}
				if dividers && n.Group != "default" {
					if lastGroup != "" && n.Group != lastGroup {
						out = append(out, field{Kind: "divider"})
					}
					lastGroup = n.Group
				}
				out = append(out, f)
				continue
			}
			f.Name, f.Type, f.Value = a.Name, a.Type, stringValue(a.Value)
			if !inputTypes[f.Type] {
				f.Type = "text"
			}
			f.Required, f.Disabled = a.Required, a.Disabled
			f.Autocomplete, f.Pattern, f.MaxLength = a.Autocomplete, a.Pattern, a.MaxLength
			switch f.Type {
			case "hidden":
				f.Kind, f.ID, f.Label = "hidden", "", ""
				f.Trigger = trigger(a.OnloadTrigger, a.Onload)
			case "submit", "button":
				f.Kind = "submit"
				if f.Label == "" {
					f.Label = f.Value
				}
				for g := range requiredIn {
					if g != n.Group {
						f.NoValidate = true
					}
				}
				if isBack(a.Name, f.Value) {
					// A step back goes last, below the form's own
					// buttons, and never validates.
					f.Secondary, f.NoValidate = true, true
					backs = append(backs, f)
					continue
				}
				if n.Group == "oidc" {
					// A provider button ("Sign up with …", "Link …")
					// sends nothing the form's inputs hold: it never
					// validates them and is not the form's main action.
					f.Secondary, f.NoValidate = true, true
					break
				}
				if strings.HasSuffix(a.Name, "_remove") || strings.HasSuffix(a.Name, "_unlink") {
					// Removing a passkey, security key or authenticator
					// is never the form's main action.
					f.Secondary, f.NoValidate = true, true
					break
				}
				// Only the first button checks the form in the browser:
				// the others (another method, "Resend code") send
				// without the inputs the first one needs; the face
				// validates either way.
				f.Secondary = submits > 0
				f.NoValidate = f.NoValidate || f.Secondary
				submits++
			case "checkbox":
				f.Kind = "checkbox"
				f.Checked = f.Value == "true"
				f.Value = "true"
			default:
				f.Kind = "input"
				if !focused && !f.Disabled {
					f.Autofocus, focused = true, true
				}
			}
			if f.Label == "" && f.Kind != "hidden" {
				f.Label = a.Name
			}
		case "text":
			f.Kind = "text"
			if a.Text != nil {
				f.Text = a.Text.Text
				f.Secrets = secrets(a.Text)
			}
		case "img":
			if !imageSource(a.Src) {
				continue
			}
			f.Kind, f.Src, f.Width, f.Height = "image", template.URL(a.Src), a.Width, a.Height
			if f.Label == "" {
				f.Label = "Image"
			}
		case "a":
			f.Kind, f.Href = "anchor", a.Href
			if a.Title != nil {
				f.Text, f.TextID = a.Title.Text, a.Title.ID
			}
			if f.Text == "" {
				f.Text = f.Label
			}
		default:
			continue // script nodes and unknown types
		}
		if dividers && n.Group != "default" && f.Kind != "hidden" {
			if lastGroup != "" && n.Group != lastGroup {
				out = append(out, field{Kind: "divider"})
			}
			lastGroup = n.Group
		}
		out = append(out, f)
	}
	// The focus goes to the first input with an error, else the first
	// input (set above).
	for i := range out {
		if out[i].Kind == "input" && len(out[i].Messages) > 0 && !out[i].Disabled {
			for j := range out {
				out[j].Autofocus = false
			}
			out[i].Autofocus = true
			break
		}
	}
	return append(out, backs...)
}

// isBack reports whether a submit button goes back a screen: Kratos'
// registration "Back" (screen=previous) or a method's "<method>:back".
func isBack(name, value string) bool {
	return name == "screen" || value == "previous" || strings.HasSuffix(value, ":back")
}

// imageSource accepts the image URLs a flow sends: https and http URLs
// and base64 data URLs of raster images (the TOTP QR code). html/template
// would reject data URLs, so they are checked here and passed as trusted.
func imageSource(src string) bool {
	lower := strings.ToLower(src)
	switch {
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		return true
	case strings.HasPrefix(lower, "data:image/png;base64,"), strings.HasPrefix(lower, "data:image/jpeg;base64,"),
		strings.HasPrefix(lower, "data:image/gif;base64,"), strings.HasPrefix(lower, "data:image/webp;base64,"):
		body := src[strings.IndexByte(src, ',')+1:]
		return strings.Trim(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == ""
	}
	return false
}

// secrets returns the lookup secrets a text node lists in its context
// (Kratos' recovery codes), or nil.
func secrets(t *textJSON) []string {
	list, ok := t.Context["secrets"].([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range list {
		switch v := s.(type) {
		case map[string]any:
			if txt, ok := v["text"].(string); ok {
				out = append(out, txt)
			}
		case string:
			out = append(out, v)
		}
	}
	return out
}

// stringValue renders a node value as the form will send it back.
func stringValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// displayName names an identity for "Signed in as": its e-mail trait, its
// first verifiable address, a username, or its id.
func displayName(i *identityJSON) string {
	if i == nil {
		return ""
	}
	var traits map[string]any
	_ = json.Unmarshal(i.Traits, &traits)
	for _, k := range []string{"email", "username", "phone"} {
		if s, ok := traits[k].(string); ok && s != "" {
			return s
		}
	}
	for _, a := range i.VerifiableAddresses {
		if a.Value != "" {
			return a.Value
		}
	}
	return i.ID
}

// traitDetails lists an identity's scalar traits, flattened with dots and
// sorted by name.
func traitDetails(i *identityJSON) []detail {
	if i == nil {
		return nil
	}
	var traits map[string]any
	if json.Unmarshal(i.Traits, &traits) != nil {
		return nil
	}
	var out []detail
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := prefix + k
			switch x := v.(type) {
			case map[string]any:
				walk(name+".", x)
			case nil:
			default:
				out = append(out, detail{Term: name, Value: stringValue(x)})
			}
		}
	}
	walk("", traits)
	sort.Slice(out, func(a, b int) bool { return out[a].Term < out[b].Term })
	return out
}
