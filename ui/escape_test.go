package ui

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// languageItemsTemplate is the layout's switcher as it was before
// LanguageItems, rendered by html/template.
var languageItemsTemplate = template.Must(template.New("").Parse(`<ul>
{{- range .}}
<li>{{if .Current}}<a href="{{.Href}}" lang="{{.Code}}" hreflang="{{.Code}}" aria-current="true">{{.Name}}</a>{{else}}<a href="{{.Href}}" lang="{{.Code}}" hreflang="{{.Code}}">{{.Name}}</a>{{end}}</li>
{{- end}}
</ul>`))

// TestLanguageItemsEscape: LanguageItems writes what html/template wrote for
// the switcher, byte for byte, for hostile codes, names and links too
// (quotes, entities, '+', NUL, invalid UTF-8, percent signs valid or not,
// schemes that html/template refuses).
func TestLanguageItemsEscape(t *testing.T) {
	values := []string{"", "en", "pt-BR", "中文", "বাংলা", `a"b'c&d<e>f+g`, "x\x00y", "\xff\xfe<", "%", "%4", "%41", "a%41b",
		"%zz", "%%", "a b\tc\nd", "(x)", "`~!@#$^*[]{}|\\", "é%C3%A9", "\u2028\ufdd0\uffff"}
	hrefs := []string{"/ui/login?flow=e5293594-300f-4214-884b-a608b7edbacf&lang=en", "javascript:alert(1)", "JavaScript:x",
		"HTTP://example.com/a b", "https://x/?q=a+b&r='\"", "mailto:a@b", "data:text/html,x", "/a:b", "a/b:c", ":x", "x:",
		"//host/p?x=%zz&y=%41", "/ui/%E4%B8%AD?lang=zh"}
	hrefs = append(hrefs, values...)
	var links []languageLink
	for i, h := range hrefs {
		v := values[i%len(values)]
		links = append(links, languageLink{Code: v, Name: values[(i+3)%len(values)], Href: h, Current: i%3 == 0})
	}
	for n := 0; n <= len(links); n++ {
		var want strings.Builder
		if err := languageItemsTemplate.Execute(&want, links[:n]); err != nil {
			t.Fatal(err)
		}
		p := &page{Languages: links[:n]}
		if got := "<ul>" + string(p.LanguageItems()) + "\n</ul>"; got != want.String() {
			t.Fatalf("%d links:\ngot  %q\nwant %q", n, got, want.String())
		}
	}
}

// fieldsTemplate is the form template's range over Fields with the
// "field", "nodemessages" and "message" templates as they were before
// FieldsHTML, rendered by html/template.
var fieldsTemplate = template.Must(template.New("").Parse(`{{define "fields" -}}
<form>
{{- range .Fields}}
{{template "field" .}}
{{- end}}
</form>
{{- end}}

{{define "field" -}}
{{- if eq .Kind "hidden" -}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}"{{with .Trigger}} data-latchkey-onload="{{.}}"{{end}}>
{{- else if eq .Kind "input" -}}
<div class="field">
<label for="{{.ID}}">{{.Label}}</label>
<input id="{{.ID}}" name="{{.Name}}" type="{{.Type}}"{{if .Value}} value="{{.Value}}"{{end}}{{if .Required}} required{{end}}{{if .Disabled}} disabled{{end}}{{with .Autocomplete}} autocomplete="{{.}}"{{end}}{{with .Pattern}} pattern="{{.}}"{{end}}{{with .MaxLength}} maxlength="{{.}}"{{end}}{{if .Autofocus}} autofocus{{end}}{{if .Messages}} aria-invalid="true" aria-describedby="{{.ID}}-msg"{{end}}>
{{- if .Messages}}
<div id="{{.ID}}-msg">
{{- template "nodemessages" .Messages}}
</div>
{{- end}}
</div>
{{- else if eq .Kind "checkbox" -}}
<div class="field check">
<input id="{{.ID}}" name="{{.Name}}" type="checkbox" value="{{.Value}}"{{if .Checked}} checked{{end}}{{if .Required}} required{{end}}{{if .Disabled}} disabled{{end}}{{if .Messages}} aria-invalid="true" aria-describedby="{{.ID}}-msg"{{end}}>
<label for="{{.ID}}">{{.Label}}</label>
{{- if .Messages}}
<div id="{{.ID}}-msg">
{{- template "nodemessages" .Messages}}
</div>
{{- end}}
</div>
{{- else if eq .Kind "submit" -}}
<button type="submit" name="{{.Name}}" value="{{.Value}}" class="{{if .Secondary}}btn secondary{{else}}btn{{end}}"{{if .NoValidate}} formnovalidate{{end}}{{if .Disabled}} disabled{{end}}>{{.Label}}</button>
{{- template "nodemessages" .Messages}}
{{- else if eq .Kind "scriptbutton" -}}
<button type="button" name="{{.Name}}" value="{{.Value}}" class="btn webauthn" data-latchkey-onclick="{{.Trigger}}"{{if .Disabled}} disabled{{end}}>{{.Label}}</button>
{{- template "nodemessages" .Messages}}
{{- else if eq .Kind "text" -}}
<div class="field text">
{{- with .Label}}
<p class="label">{{.}}</p>
{{- end}}
{{- if .Secrets}}
<ul class="secrets">
{{- range .Secrets}}
<li><code>{{.}}</code></li>
{{- end}}
</ul>
{{- else}}
<p><code>{{.Text}}</code></p>
{{- end}}
{{- template "nodemessages" .Messages}}
</div>
{{- else if eq .Kind "image" -}}
<div class="field image">
<img src="{{.Src}}" alt="{{.Label}}"{{with .Width}} width="{{.}}"{{end}}{{with .Height}} height="{{.}}"{{end}}>
</div>
{{- else if eq .Kind "anchor" -}}
<p><a class="btn secondary" href="{{.Href}}">{{.Text}}</a></p>
{{- else if eq .Kind "divider" -}}
<div class="divider"><span>{{.Text}}</span></div>
{{- end -}}
{{- end}}

{{define "nodemessages" -}}
{{- range .}}
{{template "message" .}}
{{- end}}
{{- end}}

{{define "message" -}}
<p class="msg msg-{{.Class}}" data-id="{{.ID}}"{{if eq .Class "error"}} role="alert"{{end}}>{{.Text}}</p>
{{- end}}`))

// TestFieldsHTMLEscape: FieldsHTML writes what the "field" template wrote,
// byte for byte, for every kind of field with and without its optional
// parts and messages, on hostile values.
func TestFieldsHTMLEscape(t *testing.T) {
	values := []string{"", "identifier", `a"b'c&d<e>f+g`, "x\x00y", "\xff\xfe<", "中文 %41 %zz", "javascript:alert(1)",
		"https://x/?a=b&c='d'", "/ui/login?flow=1&lang=en", "oryPasskeyLogin()", "error", "info"}
	v := func(i int) string { return values[i%len(values)] }
	msgs := func(i int) []message {
		switch i % 3 {
		case 0:
			return nil
		case 1:
			return []message{{ID: 4000006, Class: "error", Text: v(i)}}
		}
		return []message{{ID: 1010001, Class: v(i), Text: v(i + 1)}, {ID: 0, Class: "error", Text: v(i + 2)}}
	}
	var fields []field
	kinds := []string{"hidden", "input", "checkbox", "submit", "scriptbutton", "text", "image", "anchor", "divider", "unknown", ""}
	for i := 0; i < 3*len(values); i++ {
		for _, k := range kinds {
			f := field{Kind: k, ID: v(i), Name: v(i + 1), Type: v(i + 2), Value: v(i + 3), Label: v(i + 4),
				Required: i%2 == 0, Disabled: i%3 == 0, Checked: i%4 == 0, Autocomplete: v(i + 5), Pattern: v(i + 6),
				MaxLength: (i%3 - 1) * 64, Autofocus: i%5 == 0, Trigger: v(i + 7), NoValidate: i%2 == 1, Secondary: i%3 == 1,
				Href: v(i + 8), Src: template.URL(v(i + 9)), Width: i % 3 * 10, Height: (i + 1) % 3 * 10, Text: v(i + 10),
				Messages: msgs(i)}
			if i%2 == 0 {
				f.Secrets = []string{v(i), v(i + 1)}
			}
			fields = append(fields, f)
		}
	}
	check := func(list []field) {
		t.Helper()
		f := form{Fields: list}
		var want strings.Builder
		if err := fieldsTemplate.ExecuteTemplate(&want, "fields", f); err != nil {
			t.Fatal(err)
		}
		if got := "<form>" + string(f.FieldsHTML()) + "\n</form>"; got != want.String() {
			t.Fatalf("%d fields %+v:\ngot  %q\nwant %q", len(list), list, got, want.String())
		}
	}
	check(nil)
	for n := range fields {
		check(fields[n : n+1])
	}
	check(fields)
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

// TestPageHTML: page.writeHTML writes what the "layout" template writes,
// byte for byte, for pages without an error, sessions or details (with and
// without a lead, account, messages, WebAuthn script, forms with titles
// and messages, links with and without a prefix, a logo, a custom
// stylesheet and the language switcher, on hostile values), and leaves
// the other pages to the template.
func TestPageHTML(t *testing.T) {
	values := []string{"", "Sign in", `a"b'c&d<e>f+g`, "x\x00y", "\xff\xfe<", "中文 %41 %zz", "javascript:alert(1)",
		"https://x/?a=b&c='d'", "/ui/login?flow=1&lang=en", "/ui/static/style.css?v=2fe5f24e5cf0b043"}
	v := func(i int) string { return values[i%len(values)] }
	r := httptest.NewRequest(http.MethodGet, "/ui/login?flow=abc", nil)
	h := &Handler{prefix: ""}
	for i := 0; i < 4*len(values); i++ {
		p := &page{Title: v(i), Lead: v(i + 1), Account: v(i + 2), Stylesheet: v(i + 3), ThemeCSS: v(i + 4), Home: v(i + 5),
			Lang: v(i + 6), Nonce: v(i + 7), tr: newTranslator([]string{"en", "de", "zh"}[i%3]),
			Theme: theme{Product: v(i + 8), Logo: v(i + 9*(i%2)), CustomCSS: v(i + 3*(i%3))}}
		if i%2 == 0 {
			p.Messages = []message{{ID: 4000006, Class: "error", Text: v(i)}, {ID: 1, Class: v(i + 1), Text: v(i + 2)}}
			p.Links = []link{{Prefix: v(i), Text: v(i + 1), Href: v(i + 2)}, {Text: v(i + 3), Href: v(i + 4)}}
		}
		if i%3 == 0 {
			p.Script = &script{Src: v(i + 4), Integrity: v(i + 5)}
		}
		if i%4 != 3 {
			p.Languages = h.languages(r, v(i))
		}
		for n := 0; n < i%3; n++ {
			p.Forms = append(p.Forms, form{Title: v(i + n), Action: v(i + n + 1), Method: v(i + n + 2),
				Messages: []message{{ID: n, Class: v(i + n), Text: v(i + n + 3)}}[:n%2],
				Fields: []field{{Kind: "hidden", Name: "csrf_token", Value: v(i)}, {Kind: "input", ID: "n1", Name: "identifier",
					Type: "text", Label: v(i + 1), Required: true, Messages: []message{{ID: 4000002, Class: "error", Text: v(i + 2)}}},
					{Kind: "submit", Name: "method", Value: "password", Label: v(i + 3)}}[:i%4]})
		}
		var want strings.Builder
		if err := pages().ExecuteTemplate(&want, "layout", p); err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		if !p.writeHTML(&got) {
			t.Fatalf("page %d not written in Go", i)
		}
		if got.String() != want.String() {
			t.Fatalf("page %d %+v:\ngot  %q\nwant %q", i, p, got.String(), want.String())
		}
	}
	for _, p := range []*page{{Error: &errorView{Code: 500}}, {Sessions: &sessionsView{}}, {Details: []detail{{"a", "b"}}}} {
		if p.writeHTML(&strings.Builder{}) {
			t.Errorf("%+v written in Go, not by its template", p)
		}
	}
}
