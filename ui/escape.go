package ui

import (
	"html/template"
	"strings"
)

// The language switcher is the page's longest run of template actions
// (nine links, five escaped values each), and html/template's reflection
// and escaper calls for it cost as much CPU as the rest of a login page's
// render. languageItems writes those links in Go instead, escaping each
// value exactly as html/template does in the same place (its escape.go,
// html.go and url.go): text and plain quoted attributes with the
// htmlReplacementTable, URL attributes through urlFilter, urlNormalizer
// and then that table. TestLanguageItemsEscape compares the two on
// hostile values.

// attrEscape is html/template's htmlEscaper/attrEscaper for a string: the
// replacements of its htmlReplacementTable (all ASCII, so a byte loop sees
// the same characters as its rune loop; other bytes pass unchanged).
func attrEscape(b *strings.Builder, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	b.WriteString(s[written:])
}

// urlAttrEscape is html/template's escaping of a whole URL attribute value
// ({{.}} as the value of href): urlFilter (a scheme other than http, https
// or mailto becomes #ZgotmplZ), urlNormalizer (bytes outside the URL
// characters percent-encoded, valid escapes kept), then attrEscape.
func urlAttrEscape(b *strings.Builder, s string) {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") {
		if !strings.EqualFold(protocol, "http") && !strings.EqualFold(protocol, "https") && !strings.EqualFold(protocol, "mailto") {
			s = "#ZgotmplZ"
		}
	}
	var n strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		case strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0:
			continue
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			continue
		}
		if written == 0 {
			n.Grow(len(s) + 16)
		}
		n.WriteString(s[written:i])
		n.WriteByte('%')
		n.WriteByte("0123456789abcdef"[c>>4])
		n.WriteByte("0123456789abcdef"[c&15])
		written = i + 1
	}
	if written != 0 {
		n.WriteString(s[written:])
		s = n.String()
	}
	attrEscape(b, s)
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// LanguageItems renders the language switcher's list items, each on its
// own line as the layout's range over Languages did:
//
//	<li>{{if .Current}}<a href="{{.Href}}" lang="{{.Code}}" hreflang="{{.Code}}" aria-current="true">{{.Name}}</a>{{else}}…{{end}}</li>
func (p *page) LanguageItems() template.HTML {
	var b strings.Builder
	b.Grow(len(p.Languages) * 160)
	for _, l := range p.Languages {
		b.WriteString("\n<li><a href=\"")
		urlAttrEscape(&b, l.Href)
		b.WriteString("\" lang=\"")
		attrEscape(&b, l.Code)
		b.WriteString("\" hreflang=\"")
		attrEscape(&b, l.Code)
		if l.Current {
			b.WriteString("\" aria-current=\"true\">")
		} else {
			b.WriteString("\">")
		}
		attrEscape(&b, l.Name)
		b.WriteString("</a></li>")
	}
	return template.HTML(b.String()) //nolint:gosec // every value escaped above as html/template would
}
