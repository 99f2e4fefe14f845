package ui

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html")

// testHandler is a Handler with every link enabled and no public handler.
func testHandler() *Handler {
	var ss config.SelfService
	ss.Flows.Registration.Enabled = true
	ss.Flows.Recovery.Enabled = true
	ss.Flows.Verification.Enabled = true
	return New(Options{PublicBaseURL: "http://127.0.0.1:4433/", SelfService: ss})
}

// renderFlow renders a flow page as the handler does and returns the body.
func renderFlow(t *testing.T, h *Handler, kind string, f *flowJSON) (string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.render(rec, httptest.NewRequest("GET", "/ui/"+kind, nil), http.StatusOK, h.flowView(kind, f, parseSchema(defaultSchema)))
	if rec.Code != http.StatusOK {
		t.Fatalf("render %s = %d: %s", kind, rec.Code, rec.Body)
	}
	return rec.Body.String(), rec.Header()
}

func readFlow(t *testing.T, name string) *flowJSON {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f flowJSON
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &f
}

// TestRenderGolden pins the HTML of flows captured from serve --dev: the
// login flow, both registration screens (traits, then the password with a
// hostile trait value kept in a hidden input) and settings.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kind, fixture string
	}{
		{name: "login", kind: "login", fixture: "login.json"},
		{name: "registration", kind: "registration", fixture: "registration.json"},
		{name: "registration_credentials", kind: "registration", fixture: "registration_credentials.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _ := renderFlow(t, testHandler(), tt.kind, readFlow(t, tt.fixture))
			golden := filepath.Join("testdata", tt.name+".golden.html")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./ui -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run go test ./ui -update and review the diff):\n%s", tt.name, golden, got)
			}
		})
	}
}

// TestRenderFormShape checks what the golden files show, in words: the
// form posts to ui.action, the CSRF token is a hidden input, labels come
// from meta.label, a second method's button skips browser validation, and
// the registration "Back" button goes last.
func TestRenderFormShape(t *testing.T) {
	t.Parallel()
	login := readFlow(t, "login.json")
	body, _ := renderFlow(t, testHandler(), "login", login)
	for _, want := range []string{
		`<form action="` + strings.ReplaceAll(login.UI.Action, "&", "&amp;") + `" method="POST">`,
		`<input type="hidden" name="csrf_token" value="`,
		`<label for="n0">E-Mail / Username</label>`,
		`name="identifier" type="text" required autocomplete="username" autofocus>`,
		`<button type="submit" name="method" value="password" class="btn">Sign in with password</button>`,
		`href="/ui/registration">Sign up</a>`,
		`href="/ui/recovery">Recover your account</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q:\n%s", want, body)
		}
	}
	creds, _ := renderFlow(t, testHandler(), "registration", readFlow(t, "registration_credentials.json"))
	signUp := strings.Index(creds, `value="password" class="btn"`)
	back := strings.Index(creds, `name="screen" value="previous" class="btn secondary" formnovalidate`)
	if signUp < 0 || back < signUp {
		t.Errorf("credentials screen: sign-up button at %d, back button at %d; want back after it:\n%s", signUp, back, creds)
	}
	if strings.Contains(creds, "<script>") {
		t.Errorf("credentials screen renders a script tag:\n%s", creds)
	}
}

// TestRenderEscapesHostileValues renders flows whose values, labels and
// messages carry markup: none of it may become markup, and unsafe URLs are
// neutralised.
func TestRenderEscapesHostileValues(t *testing.T) {
	t.Parallel()
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	text := func(s string) *textJSON { return &textJSON{ID: 1, Text: s, Type: "error"} }
	node := func(group, typ, name string, value any, label string) nodeJSON {
		n := nodeJSON{Type: "input", Group: group, Attributes: attrsJSON{Name: name, Type: typ, Value: value, NodeType: "input"},
			Messages: []textJSON{*text(evil)}}
		n.Meta.Label = text(label)
		return n
	}
	tests := []struct {
		name    string
		kind    string
		flow    flowJSON
		absent  []string
		present []string
	}{
		{
			name: "trait values, labels and messages",
			kind: "registration",
			flow: flowJSON{ID: "f", ReturnTo: evil, UI: uiJSON{Action: "http://127.0.0.1:4433/self-service/registration?flow=f", Method: "POST",
				Messages: []textJSON{*text(evil)},
				Nodes: []nodeJSON{
					node("default", "hidden", "csrf_token", evil, ""),
					node("default", "email", "traits.email", evil, evil),
					node("default", "text", evil, evil, evil),
					node("default", "checkbox", "traits.ok", true, evil),
					node("password", evil, "password", nil, evil),
					node("password", "submit", "method", evil, evil),
				}}},
			present: []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;script&gt;", `type="text"`},
		},
		{
			name: "unsafe action and anchors",
			kind: "verification",
			flow: flowJSON{ID: "f", UI: uiJSON{Action: "javascript:alert(1)", Method: "POST", Nodes: []nodeJSON{
				{Type: "a", Group: "code", Attributes: attrsJSON{Href: "javascript:alert(3)", Title: text(evil), NodeType: "a"}},
				{Type: "img", Group: "totp", Attributes: attrsJSON{Src: "javascript:alert(4)", NodeType: "img"}},
				{Type: "img", Group: "totp", Attributes: attrsJSON{Src: "data:image/svg+xml;base64,PHN2Zz4=", NodeType: "img"}},
				{Type: "img", Group: "totp", Attributes: attrsJSON{Src: `data:image/png;base64,iVBO"onerror=alert(5)`, NodeType: "img"}},
				{Type: "script", Group: "webauthn", Attributes: attrsJSON{Src: "https://evil.example/x.js", NodeType: "script"}},
				{Type: "text", Group: "lookup_secret", Attributes: attrsJSON{Text: text(evil), NodeType: "text"}},
			}}},
			absent:  []string{"javascript:", "evil.example", "data:image/svg", "iVBO"},
			present: []string{`action="#ZgotmplZ"`, `href="#ZgotmplZ"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.flow
			body, hdr := renderFlow(t, testHandler(), tt.kind, &f)
			for _, bad := range append([]string{"<script", "<img src=x"}, tt.absent...) {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q:\n%s", bad, body)
				}
			}
			for _, want := range tt.present {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			// Attribute values are quoted with every inner quote escaped,
			// so without them no injected attribute may remain in a tag.
			bare := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(body, `""`)
			if m := regexp.MustCompile(`<[a-z]+[^>]*\son[a-z]+=`).FindString(bare); m != "" {
				t.Errorf("event handler attribute in %q", m)
			}
		})
	}
}

func TestFieldsValidationAndDividers(t *testing.T) {
	t.Parallel()
	in := func(group, typ, name string, required bool) nodeJSON {
		return nodeJSON{Type: "input", Group: group, Attributes: attrsJSON{Name: name, Type: typ, Required: required, NodeType: "input"}}
	}
	sub := func(group, value string) nodeJSON {
		n := in(group, "submit", "method", false)
		n.Attributes.Value = value
		return n
	}
	fs := fields([]nodeJSON{
		in("default", "hidden", "csrf_token", true),
		in("default", "text", "identifier", true),
		in("password", "password", "password", true),
		sub("password", "password"),
		sub("code", "code"),
	}, true)
	var kinds []string
	for _, f := range fs {
		k := f.Kind
		if f.Kind == "submit" {
			k += ":" + f.Value
			if f.NoValidate {
				k += ":novalidate"
			}
			if f.Secondary {
				k += ":secondary"
			}
		}
		kinds = append(kinds, k)
	}
	want := "hidden input input submit:password divider submit:code:novalidate:secondary"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}

	// A registration whose provider button comes first (Kratos' group
	// order): the button sends no input, and "Sign up" stays the main one.
	provider := in("oidc", "submit", "provider", false)
	provider.Attributes.Value = "corp"
	fs = fields([]nodeJSON{provider, in("default", "email", "traits.email", true), sub("profile", "profile")}, true)
	if !fs[0].NoValidate || !fs[0].Secondary || fs[len(fs)-1].NoValidate || fs[len(fs)-1].Secondary {
		t.Errorf("provider novalidate=%v secondary=%v, sign up novalidate=%v secondary=%v; want true, true, false, false",
			fs[0].NoValidate, fs[0].Secondary, fs[len(fs)-1].NoValidate, fs[len(fs)-1].Secondary)
	}

	// A recovery code form: "Resend code" must not require the code.
	resend := in("code", "submit", "email", false)
	resend.Attributes.Value = "ada@example.com"
	fs = fields([]nodeJSON{in("code", "text", "code", true), sub("code", "code"), resend}, true)
	if fs[1].NoValidate || !fs[2].NoValidate || !fs[2].Secondary {
		t.Errorf("continue novalidate=%v, resend novalidate=%v secondary=%v; want false, true, true", fs[1].NoValidate, fs[2].NoValidate, fs[2].Secondary)
	}
}

func TestSettingsFormsPerGroup(t *testing.T) {
	t.Parallel()
	csrf := nodeJSON{Type: "input", Group: "default", Attributes: attrsJSON{Name: "csrf_token", Type: "hidden", Value: "tok", NodeType: "input"}}
	email := nodeJSON{Type: "input", Group: "profile", Attributes: attrsJSON{Name: "traits.email", Type: "email", Value: "a@example.com", NodeType: "input"}}
	save := nodeJSON{Type: "input", Group: "profile", Attributes: attrsJSON{Name: "method", Type: "submit", Value: "profile", NodeType: "input"}}
	pw := nodeJSON{Type: "input", Group: "password", Attributes: attrsJSON{Name: "password", Type: "password", Required: true, NodeType: "input"}}
	pwSave := nodeJSON{Type: "input", Group: "password", Attributes: attrsJSON{Name: "method", Type: "submit", Value: "password", NodeType: "input"}}
	script := nodeJSON{Type: "script", Group: "webauthn", Attributes: attrsJSON{Src: "/x.js", NodeType: "script"}}
	forms := flowForms(uiJSON{Action: "/self-service/settings?flow=f", Method: "POST", Nodes: []nodeJSON{csrf, email, save, pw, pwSave, script}}, true, false)
	if len(forms) != 2 || forms[0].Title != "Profile" || forms[1].Title != "Password" {
		t.Fatalf("forms = %+v, want Profile and Password", forms)
	}
	for _, f := range forms {
		if f.Fields[0].Kind != "hidden" || f.Fields[0].Value != "tok" {
			t.Errorf("form %s does not start with the CSRF token: %+v", f.Title, f.Fields[0])
		}
		for _, fd := range f.Fields {
			if fd.Kind == "submit" && fd.NoValidate {
				t.Errorf("form %s: %s skips validation, but its form holds no other method", f.Title, fd.Value)
			}
		}
	}
	if forms[0].Fields[1].ID == forms[1].Fields[1].ID {
		t.Errorf("field ids repeat across forms: %q", forms[0].Fields[1].ID)
	}
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, "layout", &page{Title: "x", Forms: forms}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "<form "); n != 2 {
		t.Errorf("%d forms rendered, want 2", n)
	}
}

// TestWebAuthnScriptNodes renders a passkey login: the face's own script is
// loaded with the page's CSP nonce, its buttons and autofill input are
// marked for it (no inline handlers), and without the script, or with a
// script from anywhere else, none of it is rendered.
func TestWebAuthnScriptNodes(t *testing.T) {
	t.Parallel()
	own := "http://127.0.0.1:4433/.well-known/ory/webauthn.js"
	nodes := func(src string) []nodeJSON {
		return []nodeJSON{
			{Type: "input", Group: "default", Attributes: attrsJSON{Name: "csrf_token", Type: "hidden", Value: "tok", NodeType: "input"}},
			{Type: "input", Group: "default", Attributes: attrsJSON{Name: "identifier", Type: "text", Autocomplete: "username webauthn", Required: true, NodeType: "input"}},
			{Type: "input", Group: "passkey", Attributes: attrsJSON{Name: "passkey_challenge", Type: "hidden", Value: `{"publicKey":{"challenge":"abc"}}`, NodeType: "input"}},
			{Type: "script", Group: "webauthn", Attributes: attrsJSON{Src: src, Integrity: "sha512-AAAA", NodeType: "script"}},
			{Type: "input", Group: "passkey", Attributes: attrsJSON{Name: "passkey_login", Type: "hidden", Onload: "window.oryPasskeyLoginAutocompleteInit()", OnloadTrigger: "oryPasskeyLoginAutocompleteInit", NodeType: "input"}},
			{Type: "input", Group: "passkey", Attributes: attrsJSON{Name: "passkey_login_trigger", Type: "button", Value: "", Onclick: "window.oryPasskeyLogin()", OnclickTrigger: "oryPasskeyLogin", NodeType: "input"}, Meta: struct {
				Label *textJSON `json:"label"`
			}{Label: &textJSON{ID: 1010021, Text: "Sign in with passkey", Type: "info"}}},
			{Type: "input", Group: "passkey", Attributes: attrsJSON{Name: "unknown_trigger", Type: "button", Onclick: "alert(1)", NodeType: "input"}},
		}
	}
	tests := []struct {
		name    string
		src     string
		present []string
		absent  []string
		nonce   bool
	}{
		{name: "own script", src: own, nonce: true, present: []string{
			`<script src="` + own + `" integrity="sha512-AAAA" crossorigin="anonymous" referrerpolicy="no-referrer" nonce="`,
			`<button type="button" name="passkey_login_trigger" value="" class="btn webauthn" data-latchkey-onclick="oryPasskeyLogin">Sign in with passkey</button>`,
			`name="passkey_login" value="" data-latchkey-onload="oryPasskeyLoginAutocompleteInit"`,
			`autocomplete="username webauthn"`, `data-latchkey-webauthn-error`,
		}, absent: []string{"unknown_trigger", "alert(1)"}},
		{name: "own script by path", src: "/.well-known/ory/webauthn.js", nonce: true, present: []string{`<script src="/.well-known/ory/webauthn.js"`}},
		{name: "foreign script", src: "https://evil.example/.well-known/ory/webauthn.js", absent: []string{"<script", "passkey_login_trigger", "data-latchkey-webauthn-error"}},
		{name: "no script", src: "", absent: []string{"<script", "passkey_login_trigger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := nodes(tt.src)
			if tt.src == "" {
				ns = append(ns[:3], ns[4:]...)
			}
			f := &flowJSON{ID: "f", UI: uiJSON{Action: "http://127.0.0.1:4433/self-service/login?flow=f", Method: "POST", Nodes: ns}}
			body, hdr := renderFlow(t, testHandler(), "login", f)
			for _, want := range tt.present {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q:\n%s", bad, body)
				}
			}
			csp := hdr.Get("Content-Security-Policy")
			m := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(body)
			switch {
			case tt.nonce && (m == nil || !strings.Contains(csp, "script-src 'nonce-"+m[1]+"'")):
				t.Errorf("script nonce %v not allowed by Content-Security-Policy %q", m, csp)
			case !tt.nonce && strings.Contains(csp, "script-src"):
				t.Errorf("Content-Security-Policy %q allows scripts on a page without one", csp)
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			bare := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(body, `""`)
			if m := regexp.MustCompile(`<[a-z]+[^>]*\son[a-z]+=`).FindString(bare); m != "" {
				t.Errorf("event handler attribute in %q", m)
			}
		})
	}
}

// TestRenderCodeSecondFactor renders an aal2 login offering a code (one
// "Send code to …" button per address, beside TOTP) and, after a code was
// sent, the code form with the address hidden; the button label is
// translated with its address.
func TestRenderCodeSecondFactor(t *testing.T) {
	t.Parallel()
	const choose = `{"id":"f1","type":"browser","state":"choose_method","requested_aal":"aal2","ui":{"action":"http://127.0.0.1:4433/self-service/login?flow=f1","method":"POST","messages":[{"id":1010004,"text":"Please complete the second authentication challenge.","type":"info"}],"nodes":[
	{"type":"input","group":"default","attributes":{"name":"csrf_token","type":"hidden","value":"tok","required":true,"disabled":false,"node_type":"input"},"messages":[],"meta":{}},
	{"type":"input","group":"totp","attributes":{"name":"totp_code","type":"text","value":"","required":true,"disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010006,"text":"Authentication code","type":"info"}}},
	{"type":"input","group":"totp","attributes":{"name":"method","type":"submit","value":"totp","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010009,"text":"Use Authenticator","type":"info"}}},
	{"type":"input","group":"code","attributes":{"name":"address","type":"submit","value":"ada@example.com","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010023,"text":"Send code to ada@example.com","type":"info","context":{"address":"ada@example.com","channel":"email"}}}},
	{"type":"input","group":"code","attributes":{"name":"address","type":"submit","value":"+4917612345678","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010023,"text":"Send code to +4917612345678","type":"info","context":{"address":"+4917612345678","channel":"sms"}}}}]}}`
	const sent = `{"id":"f1","type":"browser","state":"sent_email","requested_aal":"aal2","ui":{"action":"http://127.0.0.1:4433/self-service/login?flow=f1","method":"POST","messages":[{"id":1010025,"text":"A code was sent to your address. If you didn't receive it, please try again.","type":"info"}],"nodes":[
	{"type":"input","group":"default","attributes":{"name":"csrf_token","type":"hidden","value":"tok","required":true,"disabled":false,"node_type":"input"},"messages":[],"meta":{}},
	{"type":"input","group":"code","attributes":{"name":"identifier","type":"hidden","value":"ada@example.com","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010023,"text":"Send code to ada@example.com","type":"info","context":{"address":"ada@example.com","channel":"email"}}}},
	{"type":"input","group":"code","attributes":{"name":"method","type":"hidden","value":"code","disabled":false,"node_type":"input"},"messages":[],"meta":{}},
	{"type":"input","group":"code","attributes":{"name":"code","type":"text","required":true,"autocomplete":"one-time-code","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070013,"text":"Login code","type":"info"}}},
	{"type":"input","group":"code","attributes":{"name":"method","type":"submit","value":"code","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070009,"text":"Continue","type":"info"}}},
	{"type":"input","group":"code","attributes":{"name":"resend","type":"submit","value":"code","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070008,"text":"Resend code","type":"info"}}}]}}`
	parse := func(s string) *flowJSON {
		var f flowJSON
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			t.Fatal(err)
		}
		return &f
	}
	for _, tt := range []struct {
		name, flow string
		want       []string
	}{
		{name: "choose address", flow: choose, want: []string{
			`<button type="submit" name="address" value="ada@example.com" class="btn secondary" formnovalidate>Send code to ada@example.com</button>`,
			`<button type="submit" name="address" value="&#43;4917612345678" class="btn secondary" formnovalidate>Send code to &#43;4917612345678</button>`,
			`Please complete the second authentication challenge.`,
		}},
		{name: "code sent", flow: sent, want: []string{
			`<input type="hidden" name="identifier" value="ada@example.com">`,
			`name="code" type="text" required autocomplete="one-time-code"`,
			`<button type="submit" name="resend" value="code" class="btn secondary" formnovalidate>Resend code</button>`,
			`A code was sent to your address.`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, _ := renderFlow(t, testHandler(), "login", parse(tt.flow))
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
		})
	}
	de := newTranslator("de")
	if got := de.message(1010023, "Send code to ada@example.com", map[string]any{"address": "ada@example.com", "channel": "email"}); got != "Code an ada@example.com senden" {
		t.Errorf("1010023 in German: %q", got)
	}
}
