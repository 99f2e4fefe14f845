package ui

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/courier"
)

// TestCatalogsComplete fails on a key missing from any language, an empty
// translation, a key only some languages have, or a translation whose
// {placeholders} differ from the English text's.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	en := catalogs["en"]()
	if len(en) == 0 {
		t.Fatal("en catalog is empty")
	}
	for _, l := range courier.Languages {
		c := catalogs[l]()
		for k, v := range en {
			tr, ok := c[k]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s: missing %q", l, k)
				continue
			}
			if want, got := placeholders(v), placeholders(tr); want != got {
				t.Errorf("%s: %q has placeholders %s, English %s", l, k, got, want)
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: key %q is not in en.json", l, k)
			}
		}
	}
}

func placeholders(s string) string {
	ms := placeholder.FindAllString(s, -1)
	sort.Strings(ms)
	return strings.Join(ms, ",")
}

// TestEveryFaceMessageTranslated: every Kratos message id the face sends
// (a seven-digit literal in api/kratos) has a catalog entry, unless its
// text is data (a schema title, a reason, secrets).
func TestEveryFaceMessageTranslated(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../api/kratos/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no face sources: %v", err)
	}
	id := regexp.MustCompile(`\b[1-5]0[0-9]{5}\b`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range id.FindAllString(string(src), -1) {
			seen++
			n := 0
			for _, c := range m {
				n = n*10 + int(c-'0')
			}
			if passthrough[n] {
				continue
			}
			if _, ok := catalogs["en"]()["msg."+m]; !ok {
				t.Errorf("%s: message id %s has no entry in ui/i18n/en.json (and the other languages)", filepath.Base(f), m)
			}
		}
	}
	if seen < 50 {
		t.Fatalf("found only %d message ids in api/kratos", seen)
	}
}

// TestPagesTranslated renders every page kind in every language and fails
// when a page asks for a string its language lacks. It is not parallel: it
// sets missingKey.
func TestPagesTranslated(t *testing.T) {
	var missing []string
	missingKey = func(lang, key string) { missing = append(missing, lang+": "+key) }
	defer func() { missingKey = func(string, string) {} }()
	u := newUpstream(t)
	h := testHandler()
	h.pub = u.mux
	mux := http.NewServeMux()
	h.Mount(mux)
	titles := map[string]string{"en": "Sign in", "de": "Anmelden", "fr": "Se connecter", "it": "Accedi", "nl": "Inloggen",
		"pt-BR": "Entrar", "zh": "登录", "bn": "সাইন ইন করুন", "pl": "Zaloguj się"}
	for _, l := range courier.Languages {
		for _, path := range []string{"/ui/login?flow=ok", "/ui/login?flow=csrf", "/ui/login?flow=boom", "/ui/error?id=e1",
			"/ui/error", "/ui/error?id=nope", "/ui/", "/ui/nowhere"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", path+sep(path)+"lang="+l, nil))
			if !strings.Contains(rec.Body.String(), `<html lang="`+l+`">`) {
				t.Errorf("%s in %s: page is not marked lang=%s", path, l, l)
			}
			if path == "/ui/login?flow=ok" && !strings.Contains(rec.Body.String(), "<h1>"+titles[l]+"</h1>") {
				t.Errorf("login in %s lacks the title %q:\n%s", l, titles[l], rec.Body)
			}
		}
		for _, fx := range []struct{ kind, file string }{{"login", "login.json"}, {"registration", "registration.json"},
			{"registration", "registration_credentials.json"}} {
			p := h.flowView(fx.kind, readFlow(t, fx.file), parseSchema(defaultSchema))
			p.translate(newTranslator(l))
		}
	}
	if len(missing) > 0 {
		t.Errorf("strings without translation:\n%s", strings.Join(missing, "\n"))
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// TestMessageTranslation: a message is translated with its context, and
// keeps the face's text when a context value is missing or it is data.
func TestMessageTranslation(t *testing.T) {
	t.Parallel()
	de := newTranslator("de")
	tests := []struct {
		id   int
		text string
		ctx  map[string]any
		want string
	}{
		{4000032, "The password must be at least 8 characters long, but got 3.", map[string]any{"min_length": 8.0, "actual_length": 3.0},
			"Das Passwort muss mindestens 8 Zeichen lang sein, hat aber 3."},
		{4000032, "The password must be at least 8 characters long, but got 3.", nil, "The password must be at least 8 characters long, but got 3."},
		{1070002, "E-Mail", map[string]any{"title": "E-Mail"}, "E-Mail"},
		{4000001, "free text", nil, "free text"},
		{1010022, "Sign in with password", nil, "Mit Passwort anmelden"},
		{9999999, "unknown", nil, "unknown"},
	}
	for _, tt := range tests {
		if got := de.message(tt.id, tt.text, tt.ctx); got != tt.want {
			t.Errorf("message(%d) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

// TestLanguageChoice: ?lang= (remembered in a cookie), then the cookie,
// then Accept-Language, then English.
func TestLanguageChoice(t *testing.T) {
	t.Parallel()
	h := testHandler()
	mux := http.NewServeMux()
	h.Mount(mux)
	tests := []struct {
		name, query, cookie, accept string
		want, setCookie             string
	}{
		{name: "default", want: "en"},
		{name: "accept-language", accept: "pl-PL,pl;q=0.9,en;q=0.5", want: "pl"},
		{name: "cookie beats accept-language", cookie: "fr", accept: "pl", want: "fr"},
		{name: "query beats cookie and is remembered", query: "de", cookie: "fr", accept: "pl", want: "de", setCookie: "de"},
		{name: "underscore locale", query: "pt_BR", want: "pt-BR", setCookie: "pt-BR"},
		{name: "region falls back to language", query: "zh-Hans-CN", want: "zh", setCookie: "zh"},
		{name: "unknown query is ignored", query: "xx", accept: "nl", want: "nl"},
		{name: "hostile cookie is ignored", cookie: "<script>", accept: "bn", want: "bn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := "/ui/nowhere"
			if tt.query != "" {
				path += "?lang=" + tt.query
			}
			req := httptest.NewRequest("GET", path, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: langCookie, Value: tt.cookie})
			}
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if !strings.Contains(rec.Body.String(), `<html lang="`+tt.want+`">`) {
				t.Errorf("page language is not %s:\n%.300s", tt.want, rec.Body)
			}
			got := ""
			for _, c := range rec.Result().Cookies() {
				if c.Name == langCookie {
					got = c.Value
					if c.Path != "/ui/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
						t.Errorf("cookie %+v", c)
					}
				}
			}
			if got != tt.setCookie {
				t.Errorf("language cookie %q, want %q", got, tt.setCookie)
			}
		})
	}
	// Starting a flow with ?lang= remembers it and leaves it off the
	// face's URL.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/login?lang=it&return_to=https%3A%2F%2Fapp.example%2F", nil))
	if loc := rec.Header().Get("Location"); rec.Code != 303 || strings.Contains(loc, "lang=") || !strings.Contains(rec.Header().Get("Set-Cookie"), langCookie+"=it") {
		t.Errorf("flow start = %d to %q, Set-Cookie %q", rec.Code, loc, rec.Header().Get("Set-Cookie"))
	}
}

// TestLanguagesHref: each switcher link is the page with the query it was
// asked with and lang set, encoded as url.Values encodes it.
func TestLanguagesHref(t *testing.T) {
	h := &Handler{prefix: "/p"}
	for _, raw := range []string{"", "flow=abc", "lang=de", "flow=abc&lang=de&return_to=https%3A%2F%2Fx%2F%3Fa%3Db",
		"a=1&a=2&lang=x&lang=y&m=%20+&z=", "LANG=1&lan=2&langs=3&la%6Eg=4", "&&=x&%zz"} {
		r := httptest.NewRequest(http.MethodGet, "/ui/login?"+raw, nil)
		for _, l := range h.languages(r, "en") {
			q := r.URL.Query()
			q.Set("lang", l.Code)
			if want := "/p/ui/login?" + q.Encode(); l.Href != want {
				t.Errorf("%q, %s: got %q, want %q", raw, l.Code, l.Href, want)
			}
		}
	}
}
