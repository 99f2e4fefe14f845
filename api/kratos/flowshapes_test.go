package kratos_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/courier/couriertest"
)

// The flow-shape goldens (testdata/flows/*.golden.json; -update rewrites
// them) pin, for every step of every flow kind in the three modes (a
// browser posting forms and following 303s, an SPA sending JSON with its
// cookies, a native app on the /api flows), what clients branch on: the
// status and redirect, active, state, type, ui.action and ui.method, the
// node set with its groups and order, the messages, requested_aal,
// refresh, return_to, continue_with and transient_payload. Ory Elements,
// for one, picks its screen from active and the node groups: a stray
// "active":"profile" after the profile_first step hid the password field.

// shapeMode is how a client drives the flows.
type shapeMode string

const (
	modeBrowser shapeMode = "browser" // forms, 303s, flows fetched with cookies (an SSR UI, Ory's webauthn.js)
	modeSPA     shapeMode = "spa"     // browser flows with Accept/Content-Type: application/json
	modeNative  shapeMode = "native"  // /api flows, X-Session-Token
)

var shapeModes = []shapeMode{modeBrowser, modeSPA, modeNative}

// flowShape is what the golden keeps of a flow.
type flowShape struct {
	Type             string          `json:"type"`
	State            string          `json:"state"`
	Active           string          `json:"active,omitempty"`
	RequestedAAL     string          `json:"requested_aal,omitempty"`
	Refresh          *bool           `json:"refresh,omitempty"`
	ReturnTo         string          `json:"return_to,omitempty"`
	Action           string          `json:"ui.action"`
	Method           string          `json:"ui.method"`
	Nodes            []string        `json:"ui.nodes"`
	Messages         []int           `json:"ui.messages,omitempty"`
	ContinueWith     []string        `json:"continue_with,omitempty"`
	TransientPayload json.RawMessage `json:"transient_payload,omitempty"`
}

// stepShape is one step of a scenario.
type stepShape struct {
	Step     string `json:"step"`
	Status   int    `json:"status"`
	Location string `json:"location,omitempty"`
	// Flow is the flow of the answer, or (browser) the flow the 303 leads
	// to, fetched as the UI would.
	Flow *flowShape `json:"flow,omitempty"`
	// Keys and ContinueWith describe answers that are not a flow (a
	// successful login or registration, an error envelope).
	Keys         []string `json:"keys,omitempty"`
	Error        string   `json:"error,omitempty"`
	ContinueWith []string `json:"continue_with,omitempty"`
}

// shaper drives one scenario in one mode and records its steps.
type shaper struct {
	t    *testing.T
	e    *ssEnv
	c    *client
	mode shapeMode
	// form sends SPA and native submissions form-encoded (dotted names,
	// Accept: application/json): the answers must be those of JSON bodies.
	form  bool
	last  map[string]any // the last flow seen (for the csrf_token)
	steps []stepShape
}

func newShaper(t *testing.T, e *ssEnv, mode shapeMode) *shaper {
	c := e.browser(t)
	switch mode {
	case modeSPA:
		c.json = true
	case modeNative:
		c = e.native(t)
	}
	return &shaper{t: t, e: e, c: c, mode: mode}
}

func (s *shaper) norm(v string) string {
	v = strings.ReplaceAll(v, strings.TrimSuffix(s.e.base, "/"), "<public>")
	return uuidRE.ReplaceAllString(v, "<id>")
}

// init starts a flow of kind (query: the init URL's query) and returns its
// id.
func (s *shaper) init(step, kind, query string) string {
	s.t.Helper()
	typ := "browser"
	if s.mode == modeNative {
		typ = "api"
	}
	path := "/self-service/" + kind + "/" + typ
	if query != "" {
		path += "?" + query
	}
	r := s.c.do("GET", path, nil)
	return s.record(step, kind, r)
}

// submit posts fields (dotted names, as a form has them) to the flow: as a
// form with the csrf_token in browser mode, as a JSON object otherwise.
func (s *shaper) submit(step, kind, id string, fields map[string]string) resp {
	s.t.Helper()
	var body any
	if s.mode == modeBrowser || s.form {
		form := url.Values{}
		for k, v := range fields {
			form.Set(k, v)
		}
		if s.mode != modeNative {
			form.Set("csrf_token", csrfOf(s.t, s.last))
		}
		body = form
	} else {
		m := map[string]any{}
		for k, v := range fields {
			cur := m
			parts := strings.Split(k, ".")
			for _, p := range parts[:len(parts)-1] {
				next, ok := cur[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					cur[p] = next
				}
				cur = next
			}
			cur[parts[len(parts)-1]] = v
		}
		if s.mode == modeSPA {
			m["csrf_token"] = csrfOf(s.t, s.last)
		}
		body = m
	}
	r := s.c.do("POST", "/self-service/"+kind+"?flow="+id, body)
	s.record(step, kind, r)
	return r
}

// get requests path as the mode's client and records the answer.
func (s *shaper) get(step, method, path string, body any) resp {
	s.t.Helper()
	r := s.c.do(method, path, body)
	s.record(step, "", r)
	return r
}

// record keeps the shape of an answer and returns the flow id it names.
func (s *shaper) record(step, kind string, r resp) string {
	s.t.Helper()
	st := stepShape{Step: step, Status: r.code}
	var id string
	switch {
	case r.code == http.StatusSeeOther || r.code == http.StatusFound:
		loc := r.hdr.Get("Location")
		st.Location = s.norm(loc)
		u, _ := url.Parse(loc)
		if fid := u.Query().Get("flow"); fid != "" && kind != "" && strings.Contains(u.Path, "/ui/") {
			k := strings.TrimPrefix(u.Path[strings.LastIndex(u.Path, "/ui/")+4:], "/")
			f := s.c.do("GET", "/self-service/"+k+"/flows?id="+fid, nil)
			must(s.t, f, http.StatusOK)
			s.last = f.json(s.t)
			st.Flow = s.shape(s.last)
			id = fid
		}
	case len(r.body) > 0 && r.body[0] == '{':
		m := r.json(s.t)
		if _, isFlow := m["ui"]; isFlow {
			s.last = m
			st.Flow = s.shape(m)
			id, _ = m["id"].(string)
			break
		}
		for k := range m {
			st.Keys = append(st.Keys, k)
		}
		sort.Strings(st.Keys)
		if e, ok := m["error"].(map[string]any); ok {
			st.Error, _ = e["id"].(string)
		}
		st.ContinueWith = continueActions(m["continue_with"])
	}
	s.steps = append(s.steps, st)
	return id
}

func continueActions(v any) []string {
	var out []string
	for _, c := range asList(v) {
		m, _ := c.(map[string]any)
		a, _ := m["action"].(string)
		out = append(out, a)
	}
	return out
}

// shape reduces a flow to what the golden keeps.
func (s *shaper) shape(m map[string]any) *flowShape {
	str := func(k string) string { v, _ := m[k].(string); return v }
	f := &flowShape{Type: str("type"), State: str("state"), Active: str("active"), RequestedAAL: str("requested_aal"),
		ReturnTo: s.norm(str("return_to")), ContinueWith: continueActions(m["continue_with"])}
	if r, ok := m["refresh"].(bool); ok {
		f.Refresh = &r
	}
	if tp, ok := m["transient_payload"]; ok {
		f.TransientPayload, _ = json.Marshal(tp)
	}
	ui, _ := m["ui"].(map[string]any)
	f.Action, _ = ui["action"].(string)
	f.Action = s.norm(f.Action)
	f.Method, _ = ui["method"].(string)
	for _, msg := range asList(ui["messages"]) {
		f.Messages = append(f.Messages, int(msg.(map[string]any)["id"].(float64)))
	}
	f.Nodes = []string{}
	for _, n := range asList(ui["nodes"]) {
		node := n.(map[string]any)
		a := node["attributes"].(map[string]any)
		desc := fmt.Sprint(node["group"], " ", node["type"])
		for _, k := range []string{"name", "type", "id"} {
			if v, ok := a[k].(string); ok && v != "" {
				desc += " " + k + "=" + v
			}
		}
		if v, ok := a["value"]; ok && v != "" {
			raw, _ := json.Marshal(v)
			switch a["name"] {
			case "csrf_token":
				raw = []byte("<csrf>")
			case "passkey_challenge", "passkey_create_data", "webauthn_login_trigger", "webauthn_register_trigger":
				raw = []byte("<webauthn-options>")
			case "passkey_remove", "webauthn_remove":
				raw = []byte("<credential>")
			}
			desc += " value=" + string(raw)
		}
		if a["required"] == true {
			desc += " required"
		}
		if meta, _ := node["meta"].(map[string]any); meta != nil {
			if l, _ := meta["label"].(map[string]any); l != nil {
				desc += fmt.Sprintf(" label=%.0f", l["id"])
			}
		}
		for _, msg := range asList(node["messages"]) {
			desc += fmt.Sprintf(" msg=%.0f", msg.(map[string]any)["id"])
		}
		f.Nodes = append(f.Nodes, desc)
	}
	return f
}

// check compares the recorded steps with the golden file of name.
func (s *shaper) check(name string) {
	s.t.Helper()
	got, err := json.MarshalIndent(s.steps, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "flows", name+".golden.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatalf("%s: %v (run go test -update)", name, err)
	}
	if !bytes.Equal(got, want) {
		s.t.Errorf("%s differs (go test -update to accept):\n%s", name, got)
	}
}

const shapeReturn = "return_to=https%3A%2F%2Fapp.example.com%2Fwelcome"

// TestFlowShapesGolden runs each scenario in each mode against a fresh
// server and compares the steps with testdata/flows/<scenario>_<mode>.
func TestFlowShapesGolden(t *testing.T) {
	t.Parallel()
	unified := func(_ *config.Config, o *kratos.SelfServiceOptions) { o.RegistrationStyle = config.RegistrationUnified }
	linkUse := func(cfg *config.Config) {
		cfg.SelfService.Flows.Verification.Use = "link"
		cfg.SelfService.Flows.Recovery.Use = "link"
		cfg.SelfService.Methods.Link.Enabled = true
	}
	scenarios := []struct {
		name string
		mail bool
		tune func(cfg *config.Config)
		opt  ssOption
		run  func(s *shaper, box *couriertest.SMTPServer)
	}{
		{name: "registration_profile_first", run: func(s *shaper, _ *couriertest.SMTPServer) {
			id := s.init("init", "registration", shapeReturn)
			s.submit("profile_invalid", "registration", id, map[string]string{"method": "profile", "traits.email": "not-an-email"})
			s.submit("profile", "registration", id, map[string]string{"method": "profile", "traits.email": "rita@example.com",
				"transient_payload.source": "golden"})
			s.submit("back", "registration", id, map[string]string{"screen": "previous", "method": "profile", "traits.email": "rita@example.com"})
			s.submit("profile_again", "registration", id, map[string]string{"method": "profile", "traits.email": "rita@example.com"})
			s.submit("password_too_short", "registration", id, map[string]string{"method": "password", "traits.email": "rita@example.com", "password": "short"})
			s.submit("password", "registration", id, map[string]string{"method": "password", "traits.email": "rita@example.com",
				"password": "correct horse battery", "transient_payload.source": "golden"})
		}},
		{name: "registration_unified", opt: unified, run: func(s *shaper, _ *couriertest.SMTPServer) {
			id := s.init("init", "registration", shapeReturn)
			s.submit("password_invalid", "registration", id, map[string]string{"method": "password", "traits.email": "rita@example.com", "password": "short"})
			s.submit("password", "registration", id, map[string]string{"method": "password", "traits.email": "rita@example.com", "password": "correct horse battery"})
		}},
		{name: "login_password", run: func(s *shaper, _ *couriertest.SMTPServer) {
			s.e.createUser(s.t, "lars@example.com")
			id := s.init("init", "login", shapeReturn)
			s.submit("wrong_password", "login", id, map[string]string{"method": "password", "identifier": "lars@example.com", "password": "not the password"})
			r := s.submit("password", "login", id, map[string]string{"method": "password", "identifier": "lars@example.com",
				"password": "an old passphrase 1", "transient_payload.source": "golden"})
			s.takeToken(r)
			s.init("already_signed_in", "login", "")
			s.init("refresh", "login", "refresh=true")
			s.init("aal2_without_second_factor", "login", "aal=aal2")
		}},
		{name: "settings", run: func(s *shaper, _ *couriertest.SMTPServer) {
			s.e.createUser(s.t, "sami@example.com")
			s.login("sami@example.com", "an old passphrase 1")
			id := s.init("init", "settings", shapeReturn)
			s.submit("profile_invalid", "settings", id, map[string]string{"method": "profile", "traits.email": "nope"})
			s.submit("profile", "settings", id, map[string]string{"method": "profile", "traits.email": "sami@example.com", "traits.name": "Sami"})
			s.submit("password", "settings", id, map[string]string{"method": "password", "password": "a brand new passphrase",
				"transient_payload.source": "golden"})
		}},
		{name: "recovery_code", mail: true, run: func(s *shaper, box *couriertest.SMTPServer) {
			s.e.createUser(s.t, "rosa@example.com")
			id := s.init("init", "recovery", shapeReturn)
			s.submit("email_missing", "recovery", id, map[string]string{"method": "code"})
			s.submit("send", "recovery", id, map[string]string{"method": "code", "email": "rosa@example.com",
				"transient_payload.source": "golden"})
			code := codeIn(s.t, box.Wait(s.t, "rosa@example.com", 1).Plain())
			s.submit("wrong_code", "recovery", id, map[string]string{"method": "code", "code": otherCode(code)})
			s.submit("code", "recovery", id, map[string]string{"method": "code", "code": code})
		}},
		{name: "verification_code", mail: true, run: func(s *shaper, box *couriertest.SMTPServer) {
			s.e.createUser(s.t, "vera@example.com")
			id := s.init("init", "verification", shapeReturn)
			s.submit("send", "verification", id, map[string]string{"method": "code", "email": "vera@example.com"})
			code := codeIn(s.t, box.Wait(s.t, "vera@example.com", 1).Plain())
			s.submit("wrong_code", "verification", id, map[string]string{"method": "code", "code": otherCode(code)})
			s.submit("code", "verification", id, map[string]string{"method": "code", "code": code})
		}},
		{name: "verification_link", mail: true, tune: linkUse, run: func(s *shaper, _ *couriertest.SMTPServer) {
			s.e.createUser(s.t, "lina@example.com")
			id := s.init("init", "verification", shapeReturn)
			s.submit("send", "verification", id, map[string]string{"method": "link", "email": "lina@example.com"})
		}},
		{name: "recovery_link", mail: true, tune: linkUse, run: func(s *shaper, _ *couriertest.SMTPServer) {
			s.e.createUser(s.t, "rick@example.com")
			id := s.init("init", "recovery", shapeReturn)
			s.submit("send", "recovery", id, map[string]string{"method": "link", "email": "rick@example.com"})
		}},
		{name: "login_code", mail: true, tune: passwordless, run: func(s *shaper, box *couriertest.SMTPServer) {
			s.e.createUser(s.t, "cody@example.com")
			id := s.init("init", "login", shapeReturn)
			s.submit("send", "login", id, map[string]string{"method": "code", "identifier": "cody@example.com",
				"transient_payload.source": "golden"})
			code := codeIn(s.t, box.Wait(s.t, "cody@example.com", 1).Plain())
			s.submit("wrong_code", "login", id, map[string]string{"method": "code", "identifier": "cody@example.com", "code": otherCode(code)})
			s.submit("code", "login", id, map[string]string{"method": "code", "identifier": "cody@example.com", "code": code})
		}},
		{name: "registration_code", mail: true, tune: passwordless, run: func(s *shaper, box *couriertest.SMTPServer) {
			id := s.init("init", "registration", shapeReturn)
			s.submit("profile", "registration", id, map[string]string{"method": "profile", "traits.email": "rhea@example.com"})
			s.submit("send", "registration", id, map[string]string{"method": "code", "traits.email": "rhea@example.com"})
			s.submit("back", "registration", id, map[string]string{"method": "code", "screen": "credential-selection", "traits.email": "rhea@example.com"})
			s.submit("resend", "registration", id, map[string]string{"method": "code", "traits.email": "rhea@example.com"})
			code := codeIn(s.t, box.Wait(s.t, "rhea@example.com", 2).Plain())
			s.submit("code", "registration", id, map[string]string{"method": "code", "traits.email": "rhea@example.com", "code": code})
		}},
		{name: "logout", run: func(s *shaper, _ *couriertest.SMTPServer) {
			s.e.createUser(s.t, "lou@example.com")
			s.login("lou@example.com", "an old passphrase 1")
			if s.mode == modeNative {
				s.get("logout", "DELETE", "/self-service/logout/api", map[string]any{"session_token": s.c.token})
				return
			}
			r := s.get("logout_urls", "GET", "/self-service/logout/browser?"+shapeReturn, nil)
			lu, _ := r.json(s.t)["logout_url"].(string)
			s.get("logout", "GET", lu, nil)
		}},
	}
	type variant struct {
		mode shapeMode
		form bool
	}
	variants := []variant{{modeBrowser, false}, {modeSPA, false}, {modeNative, false}}
	if !*update {
		// Form-encoded SPA and native submissions answer exactly as JSON
		// ones: they are checked against the same goldens.
		variants = append(variants, variant{modeSPA, true}, variant{modeNative, true})
	}
	for _, sc := range scenarios {
		for _, v := range variants {
			mode := v.mode
			name := sc.name + "_" + string(mode)
			if v.form {
				name += "_form"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var opts []ssOption
				var box *couriertest.SMTPServer
				if sc.mail {
					var opt ssOption
					opt, box = withMail(t, sc.tune)
					opts = append(opts, opt)
				}
				if sc.opt != nil {
					opts = append(opts, sc.opt)
				}
				s := newShaper(t, newSelfServiceEnv(t, opts...), mode)
				s.form = v.form
				sc.run(s, box)
				s.check(sc.name + "_" + string(mode))
			})
		}
	}
}

// login signs in with a password without recording the steps.
func (s *shaper) login(email, pw string) {
	s.t.Helper()
	rec := s.steps
	id := s.init("login", "login", "")
	r := s.submit("login", "login", id, map[string]string{"method": "password", "identifier": email, "password": pw})
	s.steps = rec
	s.takeToken(r)
}

// takeToken keeps the session token of a native answer for the next
// requests (browsers and SPAs keep the cookie).
func (s *shaper) takeToken(r resp) {
	s.t.Helper()
	if s.mode != modeNative {
		return
	}
	tok, _ := r.json(s.t)["session_token"].(string)
	if tok == "" {
		s.t.Fatalf("no session token: %s", r.body)
	}
	s.c.token = tok
}

// TestFlowActive pins the active method where Ory Elements branches on it:
// unset on the profile_first credentials screen (a set "profile" made
// Elements show only the e-mail and Back), unchanged by a failed step,
// the method once a step of it goes through, and the flow's one method
// from the start for recovery and verification.
func TestFlowActive(t *testing.T) {
	t.Parallel()
	for _, mode := range shapeModes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			opt, _ := withMail(t, passwordless)
			s := newShaper(t, newSelfServiceEnv(t, opt), mode)
			s.e.createUser(t, "ada@example.com")
			active := func() string { v, _ := s.last["active"].(string); return v }
			tests := []struct {
				name string
				step func()
				want string
			}{
				{"registration credentials screen", func() {
					id := s.init("init", "registration", "")
					s.submit("profile", "registration", id, map[string]string{"method": "profile", "traits.email": "eve@example.com"})
					if nodeNamed(s.last, "password", "") == nil {
						t.Errorf("no password node on the credentials screen: %v", s.last)
					}
				}, ""},
				{"login after a wrong password", func() {
					id := s.init("init", "login", "")
					s.submit("wrong", "login", id, map[string]string{"method": "password", "identifier": "ada@example.com", "password": "wrong password!"})
				}, ""},
				{"login code sent", func() {
					id := s.init("init", "login", "")
					s.submit("send", "login", id, map[string]string{"method": "code", "identifier": "ada@example.com"})
				}, "code"},
				{"new recovery flow", func() { s.init("init", "recovery", "") }, "code"},
				{"new verification flow", func() { s.init("init", "verification", "") }, "code"},
			}
			for _, tc := range tests {
				tc.step()
				if got := active(); got != tc.want {
					t.Errorf("%s: active = %q, want %q", tc.name, got, tc.want)
				}
			}
		})
	}
}
