package ui

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/latchkey/latchkey/courier"
)

// The pages speak the courier's languages (courier.Languages). Each has a
// catalog ui/i18n/<lang>.json mapping a page string, written in English in
// the code, or "msg.<id>" for a Kratos message id, to its translation;
// en.json lists every key and is the reference the tests hold the others
// to. A message translation may name the message's context values as
// {key}; when one is missing from the context the face's own text is
// shown.

//go:embed i18n/*.json
var catalogFS embed.FS

// catalogs maps a language to its strings. Each catalog is decoded on the
// first page translated into its language, not at start, and not with the
// others: a server whose pages are read in one or two languages keeps those
// in its live heap, not all nine (about 200 KB decoded). A catalog that
// does not parse is a build defect every test catches.
var catalogs = func() map[string]func() map[string]string {
	out := make(map[string]func() map[string]string, len(courier.Languages))
	for _, l := range courier.Languages {
		out[l] = sync.OnceValue(func() map[string]string {
			raw, err := catalogFS.ReadFile("i18n/" + l + ".json")
			if err != nil {
				panic(fmt.Sprintf("ui: no catalog for %s: %v", l, err))
			}
			m := map[string]string{}
			if err := json.Unmarshal(raw, &m); err != nil {
				panic(fmt.Sprintf("ui: catalog %s: %v", l, err))
			}
			return m
		})
	}
	return out
}()

// languageNames are the switcher's entries, each in its own language.
var languageNames = map[string]string{
	"en": "English", "de": "Deutsch", "fr": "Français", "it": "Italiano", "nl": "Nederlands",
	"pt-BR": "Português (Brasil)", "zh": "中文", "bn": "বাংলা", "pl": "Polski",
}

// passthrough are the message ids whose text is data, not prose: a schema
// title, a free-text reason, secrets and codes.
var passthrough = map[int]bool{1070002: true, 4000001: true, 1050006: true, 1050009: true, 1050015: true}

// langCookie remembers the language chosen with ?lang=.
const langCookie = "latchkey_ui_lang"

// missingKey is called when a page asks for a key its language lacks
// (tests set it to fail).
var missingKey = func(lang, key string) {}

// translator translates into one language.
type translator struct {
	lang string
	m    map[string]string
}

func newTranslator(lang string) translator {
	load, ok := catalogs[lang]
	if !ok {
		lang = courier.Languages[0]
		load = catalogs[lang]
	}
	return translator{lang: lang, m: load()}
}

// text translates a page string; the English text when the key is
// unknown.
func (t translator) text(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := t.m[s]; ok {
		return v
	}
	missingKey(t.lang, s)
	return s
}

// known translates s when it is a catalog key, else keeps it (texts from
// the face, such as an error's reason).
func (t translator) known(s string) string {
	if v, ok := t.m[s]; ok {
		return v
	}
	return s
}

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

// message translates a Kratos message by its id, filling {key} from its
// context; the face's text in English, and when the id is data, unknown or
// a context value is missing.
func (t translator) message(id int, text string, ctx map[string]any) string {
	if id == 0 || passthrough[id] {
		return text
	}
	tmpl, ok := t.m["msg."+strconv.Itoa(id)]
	if !ok {
		missingKey(t.lang, "msg."+strconv.Itoa(id))
		return text
	}
	if t.lang == courier.Languages[0] {
		return text // the face speaks English: its text is the original
	}
	complete := true
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		v, ok := ctx[m[1:len(m)-1]]
		if !ok || v == nil {
			complete = false
			return m
		}
		return stringValue(v)
	})
	if !complete {
		return text
	}
	return out
}

// language picks the page's language: ?lang= (remembered in a cookie), the
// cookie, then Accept-Language, then English, as the courier does.
func (h *Handler) language(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q != "" {
		l := courier.Language(q, "", "")
		if strings.EqualFold(strings.ReplaceAll(q, "_", "-"), l) || strings.HasPrefix(strings.ToLower(q), strings.ToLower(l)) {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: h.base + "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || strings.HasPrefix(h.origin, "https://")})
			return l
		}
	}
	chosen := ""
	if c, err := r.Cookie(langCookie); err == nil {
		chosen = c.Value
	}
	return courier.Language(chosen, r.Header.Get("Accept-Language"), "")
}

// translate puts the page into t's language: the page's own strings, and
// the flow's labels and messages by their Kratos ids.
func (p *page) translate(t translator) {
	p.tr = t
	p.Lang = t.lang
	p.Title, p.Lead = t.text(p.Title), t.text(p.Lead)
	for i := range p.Messages {
		p.Messages[i].translate(t)
	}
	for i := range p.Links {
		p.Links[i].Prefix, p.Links[i].Text = t.text(p.Links[i].Prefix), t.text(p.Links[i].Text)
	}
	for i := range p.Details {
		p.Details[i].Term = t.known(p.Details[i].Term)
	}
	if p.Sessions != nil {
		p.Sessions.translate(t)
	}
	if e := p.Error; e != nil {
		e.Message, e.Reason = t.known(e.Message), t.known(e.Reason)
		e.ErrorLabel, e.RequestLabel = t.text("Error"), t.text("Request")
	}
	for i := range p.Forms {
		f := &p.Forms[i]
		f.Title = t.known(f.Title)
		for j := range f.Messages {
			f.Messages[j].translate(t)
		}
		for j := range f.Fields {
			fd := &f.Fields[j]
			if fd.LabelID != 0 {
				fd.Label = t.message(fd.LabelID, fd.Label, fd.LabelContext)
			} else if fd.Kind == "image" && fd.Label == "Image" {
				fd.Label = t.text(fd.Label)
			}
			if fd.Kind == "divider" {
				fd.Text = t.text("or")
			}
			if fd.Kind == "anchor" && fd.TextID != 0 {
				fd.Text = t.message(fd.TextID, fd.Text, nil)
			}
			for k := range fd.Messages {
				fd.Messages[k].translate(t)
			}
		}
	}
}

func (m *message) translate(t translator) { m.Text = t.message(m.ID, m.Text, m.Context) }

// T translates a string of the templates.
func (p *page) T(s string) string { return p.tr.text(s) }

// languageLink is one entry of the language switcher.
type languageLink struct {
	Code, Name, Href string
	Current          bool
}

// languages lists the switcher's links: this page with ?lang=. The query
// is encoded once, in two halves around lang, which is where url.Values'
// Encode (keys sorted) puts it.
func (h *Handler) languages(r *http.Request, current string) []languageLink {
	out := make([]languageLink, 0, len(courier.Languages))
	before, after := url.Values{}, url.Values{}
	for k, vs := range r.URL.Query() {
		switch {
		case k < "lang":
			before[k] = vs
		case k > "lang":
			after[k] = vs
		}
	}
	head, tail := h.prefix+r.URL.Path+"?", after.Encode()
	if b := before.Encode(); b != "" {
		head += b + "&"
	}
	if tail != "" {
		tail = "&" + tail
	}
	for _, l := range courier.Languages {
		out = append(out, languageLink{Code: l, Name: languageNames[l], Href: head + "lang=" + url.QueryEscape(l) + tail, Current: l == current})
	}
	return out
}
