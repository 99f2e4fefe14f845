package ui

import (
	"html/template"
	"strconv"
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
	urlNormalizeEscape(b, s)
}

// urlNormalizeEscape is html/template's urlNormalizer and then attrEscape:
// how a URL attribute's value that needs no filter (a template.URL, or
// one urlFilter let through) is written.
func urlNormalizeEscape(b *strings.Builder, s string) {
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

// FieldsHTML renders the form's fields, each on its own line, as the form
// template's range over Fields with the "field" template did (its text is
// in fieldsTemplate of escape_test.go); TestFieldsHTMLEscape compares the
// two for every kind of field.
func (f form) FieldsHTML() template.HTML {
	var b strings.Builder
	b.Grow(len(f.Fields) * 200)
	for n := range f.Fields {
		b.WriteByte('\n')
		f.Fields[n].writeHTML(&b)
	}
	return template.HTML(b.String()) //nolint:gosec // every value escaped as html/template would
}

// writeHTML writes one field as the "field" template did.
func (f *field) writeHTML(b *strings.Builder) {
	attr := func(name, v string) { // ` name="v"`
		b.WriteString(" " + name + "=\"")
		attrEscape(b, v)
		b.WriteByte('"')
	}
	flag := func(on bool, s string) {
		if on {
			b.WriteString(s)
		}
	}
	invalid := func() {
		if len(f.Messages) > 0 {
			b.WriteString(` aria-invalid="true" aria-describedby="`)
			attrEscape(b, f.ID)
			b.WriteString(`-msg"`)
		}
	}
	messagesBlock := func() {
		if len(f.Messages) > 0 {
			b.WriteString("\n<div id=\"")
			attrEscape(b, f.ID)
			b.WriteString("-msg\">")
			writeMessages(b, f.Messages)
			b.WriteString("\n</div>")
		}
	}
	switch f.Kind {
	case "hidden":
		b.WriteString(`<input type="hidden"`)
		attr("name", f.Name)
		attr("value", f.Value)
		if f.Trigger != "" {
			attr("data-latchkey-onload", f.Trigger)
		}
		b.WriteByte('>')
	case "input":
		b.WriteString("<div class=\"field\">\n<label for=\"")
		attrEscape(b, f.ID)
		b.WriteString(`">`)
		attrEscape(b, f.Label)
		b.WriteString("</label>\n<input")
		attr("id", f.ID)
		attr("name", f.Name)
		attr("type", f.Type)
		if f.Value != "" {
			attr("value", f.Value)
		}
		flag(f.Required, " required")
		flag(f.Disabled, " disabled")
		if f.Autocomplete != "" {
			attr("autocomplete", f.Autocomplete)
		}
		if f.Pattern != "" {
			attr("pattern", f.Pattern)
		}
		if f.MaxLength != 0 {
			attr("maxlength", strconv.Itoa(f.MaxLength))
		}
		flag(f.Autofocus, " autofocus")
		invalid()
		b.WriteByte('>')
		messagesBlock()
		b.WriteString("\n</div>")
	case "checkbox":
		b.WriteString("<div class=\"field check\">\n<input")
		attr("id", f.ID)
		attr("name", f.Name)
		b.WriteString(` type="checkbox"`)
		attr("value", f.Value)
		flag(f.Checked, " checked")
		flag(f.Required, " required")
		flag(f.Disabled, " disabled")
		invalid()
		b.WriteString(">\n<label for=\"")
		attrEscape(b, f.ID)
		b.WriteString(`">`)
		attrEscape(b, f.Label)
		b.WriteString("</label>")
		messagesBlock()
		b.WriteString("\n</div>")
	case "submit":
		b.WriteString(`<button type="submit"`)
		attr("name", f.Name)
		attr("value", f.Value)
		if f.Secondary {
			b.WriteString(` class="btn secondary"`)
		} else {
			b.WriteString(` class="btn"`)
		}
		flag(f.NoValidate, " formnovalidate")
		flag(f.Disabled, " disabled")
		b.WriteByte('>')
		attrEscape(b, f.Label)
		b.WriteString("</button>")
		writeMessages(b, f.Messages)
	case "scriptbutton":
		b.WriteString(`<button type="button"`)
		attr("name", f.Name)
		attr("value", f.Value)
		b.WriteString(` class="btn webauthn"`)
		attr("data-latchkey-onclick", f.Trigger)
		flag(f.Disabled, " disabled")
		b.WriteByte('>')
		attrEscape(b, f.Label)
		b.WriteString("</button>")
		writeMessages(b, f.Messages)
	case "text":
		b.WriteString(`<div class="field text">`)
		if f.Label != "" {
			b.WriteString("\n<p class=\"label\">")
			attrEscape(b, f.Label)
			b.WriteString("</p>")
		}
		if len(f.Secrets) > 0 {
			b.WriteString("\n<ul class=\"secrets\">")
			for _, s := range f.Secrets {
				b.WriteString("\n<li><code>")
				attrEscape(b, s)
				b.WriteString("</code></li>")
			}
			b.WriteString("\n</ul>")
		} else {
			b.WriteString("\n<p><code>")
			attrEscape(b, f.Text)
			b.WriteString("</code></p>")
		}
		writeMessages(b, f.Messages)
		b.WriteString("\n</div>")
	case "image":
		b.WriteString("<div class=\"field image\">\n<img src=\"")
		urlNormalizeEscape(b, string(f.Src)) // a template.URL: not filtered
		b.WriteString(`"`)
		attr("alt", f.Label)
		if f.Width != 0 {
			attr("width", strconv.Itoa(f.Width))
		}
		if f.Height != 0 {
			attr("height", strconv.Itoa(f.Height))
		}
		b.WriteString(">\n</div>")
	case "anchor":
		b.WriteString(`<p><a class="btn secondary" href="`)
		urlAttrEscape(b, f.Href)
		b.WriteString(`">`)
		attrEscape(b, f.Text)
		b.WriteString("</a></p>")
	case "divider":
		b.WriteString(`<div class="divider"><span>`)
		attrEscape(b, f.Text)
		b.WriteString("</span></div>")
	}
}

// writeMessages writes a field's messages as the "nodemessages" template
// did: each on its own line, as the "message" template renders one.
func writeMessages(b *strings.Builder, ms []message) {
	for _, m := range ms {
		b.WriteString("\n<p class=\"msg msg-")
		attrEscape(b, m.Class)
		b.WriteString(`" data-id="`)
		b.WriteString(strconv.Itoa(m.ID))
		b.WriteByte('"')
		if m.Class == "error" {
			b.WriteString(` role="alert"`)
		}
		b.WriteByte('>')
		attrEscape(b, m.Text)
		b.WriteString("</p>")
	}
}

// writeHTML writes the page as the "layout" template does (with the "form"
// and "message" templates), for the pages without an error, a sessions
// section or details: a login, registration, recovery or verification
// page, and the settings page of a browser the session list is not
// shown to. It returns false for the others, which the template renders.
// TestPageHTML compares the two on such pages with hostile values.
func (p *page) writeHTML(b *strings.Builder) bool {
	if p.Error != nil || p.Sessions != nil || len(p.Details) > 0 {
		return false
	}
	b.WriteString("<!doctype html>\n<html lang=\"")
	attrEscape(b, p.Lang)
	b.WriteString("\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
		"<meta name=\"color-scheme\" content=\"light dark\">\n<title>")
	attrEscape(b, p.Title)
	b.WriteString(" · ")
	attrEscape(b, p.Theme.Product)
	b.WriteString("</title>\n<link rel=\"stylesheet\" href=\"")
	urlAttrEscape(b, p.Stylesheet)
	b.WriteString("\">\n<link rel=\"stylesheet\" href=\"")
	urlAttrEscape(b, p.ThemeCSS)
	b.WriteString("\">")
	if p.Theme.CustomCSS != "" {
		b.WriteString("\n<link rel=\"stylesheet\" href=\"")
		urlAttrEscape(b, p.Theme.CustomCSS)
		b.WriteString("\">")
	}
	b.WriteString("\n</head>\n<body>\n<main class=\"card\">\n<header>\n<a class=\"brand\" href=\"")
	urlAttrEscape(b, p.Home)
	b.WriteString("\">")
	if p.Theme.Logo != "" {
		b.WriteString("<img src=\"")
		urlAttrEscape(b, p.Theme.Logo)
		b.WriteString("\" alt=\"")
		attrEscape(b, p.Theme.Product)
		b.WriteString("\">")
	} else {
		attrEscape(b, p.Theme.Product)
	}
	b.WriteString("</a>\n<h1>")
	attrEscape(b, p.Title)
	b.WriteString("</h1>")
	if p.Lead != "" {
		b.WriteString("\n<p class=\"lead\">")
		attrEscape(b, p.Lead)
		b.WriteString("</p>")
	}
	if p.Account != "" {
		b.WriteString("\n<p class=\"account\">")
		attrEscape(b, p.T("Signed in as"))
		b.WriteString(" <strong>")
		attrEscape(b, p.Account)
		b.WriteString("</strong></p>")
	}
	b.WriteString("\n</header>")
	writeMessages(b, p.Messages)
	if p.Script != nil {
		b.WriteString("\n<p class=\"msg msg-error\" data-latchkey-webauthn-error role=\"alert\" hidden></p>")
	}
	for n := range p.Forms {
		f := &p.Forms[n]
		b.WriteString("\n<form action=\"")
		urlAttrEscape(b, f.Action)
		b.WriteString("\" method=\"")
		attrEscape(b, f.Method)
		b.WriteString("\">")
		if f.Title != "" {
			b.WriteString("\n<h2>")
			attrEscape(b, f.Title)
			b.WriteString("</h2>")
		}
		writeMessages(b, f.Messages)
		for i := range f.Fields {
			b.WriteByte('\n')
			f.Fields[i].writeHTML(b)
		}
		b.WriteString("\n</form>")
	}
	if len(p.Links) > 0 {
		b.WriteString("\n<nav class=\"links\">")
		for _, l := range p.Links {
			b.WriteString("\n<p>")
			if l.Prefix != "" {
				attrEscape(b, l.Prefix)
				b.WriteByte(' ')
			}
			b.WriteString("<a href=\"")
			urlAttrEscape(b, l.Href)
			b.WriteString("\">")
			attrEscape(b, l.Text)
			b.WriteString("</a></p>")
		}
		b.WriteString("\n</nav>")
	}
	if len(p.Languages) > 0 {
		b.WriteString("\n<nav class=\"languages\" aria-label=\"")
		attrEscape(b, p.T("Language"))
		b.WriteString("\">\n<ul>")
		b.WriteString(string(p.LanguageItems()))
		b.WriteString("\n</ul>\n</nav>")
	}
	b.WriteString("\n</main>")
	if s := p.Script; s != nil {
		b.WriteString("\n<script src=\"")
		urlAttrEscape(b, s.Src)
		b.WriteByte('"')
		if s.Integrity != "" {
			b.WriteString(" integrity=\"")
			attrEscape(b, s.Integrity)
			b.WriteByte('"')
		}
		b.WriteString(" crossorigin=\"anonymous\" referrerpolicy=\"no-referrer\" nonce=\"")
		attrEscape(b, p.Nonce)
		b.WriteString("\" async></script>")
	}
	b.WriteString("\n</body>\n</html>\n")
	return true
}
