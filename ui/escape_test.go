package ui

import (
	"html/template"
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
