package ui

import (
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// defaultSchema is the built-in identity schema (schema/default.schema.json).
var defaultSchema = func() []byte {
	b, err := os.ReadFile("../schema/default.schema.json")
	if err != nil {
		panic(err)
	}
	return b
}()

func TestParseSchemaKeepsFileOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		raw       string
		order     []string
		identTitl []string
	}{
		{"built-in", string(defaultSchema),
			[]string{"traits.email", "traits.username", "traits.name", "traits.given_name", "traits.family_name", "traits.picture"},
			[]string{"E-Mail", "Username"}},
		{"nested, not alphabetical", `{"properties":{"traits":{"type":"object","properties":{
			"zip":{"type":"string"},"name":{"type":"object","properties":{"last":{"type":"string"},"first":{"type":"string","title":"First",
			"ory.sh/kratos":{"credentials":{"password":{"identifier":true}}}}}},"age":{"type":"integer"}}}}}`,
			[]string{"traits.zip", "traits.name.last", "traits.name.first", "traits.age"}, []string{"First"}},
		{"not json", `{"properties":`, nil, nil},
		{"deep", strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info := parseSchema([]byte(tt.raw))
			if len(info.order) != len(tt.order) {
				t.Fatalf("order = %v, want %v", info.order, tt.order)
			}
			for i, name := range tt.order {
				if info.order[name] != i {
					t.Errorf("%s at %d, want %d", name, info.order[name], i)
				}
			}
			if strings.Join(info.identifiers, "|") != strings.Join(tt.identTitl, "|") {
				t.Errorf("identifiers = %q, want %q", info.identifiers, tt.identTitl)
			}
		})
	}
}

func FuzzParseSchema(f *testing.F) {
	f.Add(defaultSchema)
	f.Add([]byte(`{"properties":{"traits":{"properties":{"a":{"type":"object","properties":{}}}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		info := parseSchema(raw)
		nodes := []nodeJSON{{Type: "input", Attributes: attrsJSON{Name: "traits.a"}}, {Type: "input", Attributes: attrsJSON{Name: "traits.b"}}}
		sortTraits(nodes, info)
	})
}

// TestRegistrationSchemaOrder: the face lists traits by name; the page
// shows them as the schema writes them, then the password group.
func TestRegistrationSchemaOrder(t *testing.T) {
	t.Parallel()
	body, _ := renderFlow(t, testHandler(), "registration", readFlow(t, "registration.json"))
	var names []string
	for _, m := range regexp.MustCompile(`<input [^>]*name="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		if m[1] != "csrf_token" {
			names = append(names, m[1])
		}
	}
	want := "traits.email traits.username traits.name traits.given_name traits.family_name traits.picture"
	if got := strings.Join(names, " "); !strings.HasPrefix(got, want) {
		t.Fatalf("field order = %s, want it to start with %s", got, want)
	}
}

func TestAutocompleteAndLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind, fixture string
		want          []string
		not           []string
	}{
		{"login", "login.json", []string{
			`<label for="n0">E-Mail / Username</label>`,
			`name="identifier" type="text" required autocomplete="username"`,
			`autocomplete="current-password"`}, []string{`>ID<`}},
		{"registration", "registration.json", []string{
			`name="traits.email" type="email" required autocomplete="email"`,
			`name="traits.given_name" type="text" autocomplete="given-name"`,
			`name="traits.family_name" type="text" autocomplete="family-name"`,
			`name="traits.username" type="text" autocomplete="username"`}, nil},
		{"registration", "registration_credentials.json", []string{`autocomplete="new-password"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			body, _ := renderFlow(t, testHandler(), tt.kind, readFlow(t, tt.fixture))
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %s\n%s", w, body)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("page has %s", n)
				}
			}
			// Every visible input is labelled and has an autocomplete token.
			for _, in := range regexp.MustCompile(`<input [^>]*>`).FindAllString(body, -1) {
				if strings.Contains(in, `type="hidden"`) || strings.Contains(in, `type="checkbox"`) {
					continue
				}
				id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(in)
				if id == nil || !strings.Contains(body, `<label for="`+id[1]+`">`) {
					t.Errorf("input without label: %s", in)
				}
				if !strings.Contains(in, "autocomplete=") {
					t.Errorf("input without autocomplete: %s", in)
				}
			}
		})
	}
}

// TestFocusOnFirstError: the input with the first error takes the focus
// and names its messages.
func TestFocusOnFirstError(t *testing.T) {
	t.Parallel()
	f := readFlow(t, "login.json")
	for i := range f.UI.Nodes {
		if f.UI.Nodes[i].Attributes.Name == "password" {
			f.UI.Nodes[i].Messages = []textJSON{{ID: 4000002, Type: "error", Text: "Property password is missing."}}
		}
	}
	body, _ := renderFlow(t, testHandler(), "login", f)
	if n := strings.Count(body, " autofocus"); n != 1 {
		t.Fatalf("%d autofocus attributes, want 1", n)
	}
	pw := regexp.MustCompile(`<input [^>]*name="password"[^>]*>`).FindString(body)
	if !strings.Contains(pw, "autofocus") || !strings.Contains(pw, `aria-invalid="true"`) || !strings.Contains(pw, `aria-describedby="`) {
		t.Fatalf("password input %s: want autofocus, aria-invalid and aria-describedby", pw)
	}
	if !strings.Contains(body, `role="alert">Property password is missing.`) {
		t.Fatalf("error message is not an alert:\n%s", body)
	}
}

// TestCSRFPageExplains: the CSRF error page says what happened and what
// to do, not "Your session expired".
func TestCSRFPageExplains(t *testing.T) {
	t.Parallel()
	u := newUpstream(t)
	h := testHandler()
	h.pub = u.mux
	mux := http.NewServeMux()
	h.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/login?flow=csrf", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d", rec.Code)
	}
	for _, w := range []string{"could not be verified", "security cookie", "Allow cookies for this site, then start over", "Start over"} {
		if !strings.Contains(body, w) {
			t.Errorf("CSRF page lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "session expired") {
		t.Errorf("CSRF page still says the session expired")
	}
}

// TestSchemaParsedOnce: a page reads its identity schema through the
// public API as before, but decodes the document only the first time it
// sees it: the schema's cost beyond that subrequest is a map lookup, where
// the token-by-token decode was a few hundred allocations (about a fifth
// of a login page's bytes). A changed document is parsed anew.
func TestSchemaParsedOnce(t *testing.T) {
	doc := []byte(defaultSchema)
	pub := http.NewServeMux()
	pub.HandleFunc("GET /schemas/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	h := New(Options{PublicBaseURL: "http://127.0.0.1:4433/", Public: pub})
	r := httptest.NewRequest("GET", "/ui/login?flow=x", nil)
	want := parseSchema(doc)
	if got := h.schema(r, "default"); !reflect.DeepEqual(got, want) {
		t.Fatalf("schema = %+v, want %+v", got, want)
	}
	call := testing.AllocsPerRun(50, func() { _, _ = h.call(r, "/schemas/default") })
	read := testing.AllocsPerRun(50, func() { _ = h.schema(r, "default") })
	t.Logf("allocations: subrequest %.0f, schema read %.0f", call, read)
	if read > call+2 {
		t.Errorf("reading the schema allocates %.0f times, the subrequest alone %.0f: the document is decoded again", read, call)
	}
	doc = []byte(`{"properties":{"traits":{"type":"object","properties":{"zip":{"type":"string"}}}}}`)
	if got := h.schema(r, "default"); !reflect.DeepEqual(got.order, map[string]int{"traits.zip": 0}) {
		t.Errorf("changed schema: order %v, want traits.zip only", got.order)
	}
}

// TestSchemaMemoBounded: past maxSchemaMemo documents, the others are
// parsed (right) but not kept.
func TestSchemaMemoBounded(t *testing.T) {
	var c schemaMemo
	for i := range maxSchemaMemo + 5 {
		raw := []byte(`{"properties":{"traits":{"type":"object","properties":{"f` + strconv.Itoa(i) + `":{"type":"string"}}}}}`)
		if got := c.parse(raw); got.order["traits.f"+strconv.Itoa(i)] != 0 || len(got.order) != 1 {
			t.Fatalf("document %d: order %v", i, got.order)
		}
	}
	if len(c.m) != maxSchemaMemo {
		t.Errorf("%d documents kept, want %d", len(c.m), maxSchemaMemo)
	}
}
