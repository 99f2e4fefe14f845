package courier

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/latchkey/latchkey/core"
)

//go:embed templates/locales/*.json templates/layout.html.tmpl
var embedded embed.FS

// Rendered is a message rendered from its templates. Subject, Text and HTML
// are set for e-mail, SMS for text messages.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	SMS     string
}

// TemplateOverride replaces parts of one template type's built-in templates,
// in every language. Each field is empty (keep the built-in) or a URL:
// file:///path/to/template, base64://<standard base64 of the template>, or
// http(s)://… (fetched once, when the courier is built).
// Templates are Go templates over the request data (text/template for
// Subject, Plaintext and SMS; html/template for HTML), the shape of Kratos'
// courier.templates.<type>.<valid|invalid>.email.{subject,body.plaintext,
// body.html} and .sms.body.plaintext.
type TemplateOverride struct {
	Subject   string
	Plaintext string
	HTML      string
	SMS       string
}

// The parts of a template and their file names in an override directory
// (Kratos' names).
const (
	partSubject   = "email.subject"
	partPlaintext = "email.body.plaintext"
	partHTML      = "email.body"
	partSMS       = "sms.body"
)

// localeEntry is one template type in a locale file: the translatable
// strings, each a text/template over the request data.
type localeEntry struct {
	Subject string   `json:"subject"`
	Intro   []string `json:"intro"`
	Button  string   `json:"button"`
	Outro   []string `json:"outro"`
	SMS     string   `json:"sms"`
}

// builtin is a parsed localeEntry.
type builtin struct {
	subject *texttemplate.Template
	intro   []*texttemplate.Template
	button  *texttemplate.Template
	outro   []*texttemplate.Template
	sms     *texttemplate.Template
}

type builtinSet struct {
	// byLang parses a language's templates on its first use: the nine
	// languages' parsed templates are about 1.3 MB of heap that a server
	// whose users read one or two languages would keep for nothing.
	byLang map[string]func() (map[string]*builtin, error) // language -> type -> templates
	layout *htmltemplate.Template
}

// lang returns the parsed templates of lang, a member of Languages (nil
// for any other).
func (s *builtinSet) lang(lang string) (map[string]*builtin, error) {
	parse := s.byLang[lang]
	if parse == nil {
		return nil, nil
	}
	return parse()
}

// loadBuiltins parses the embedded templates once per process.
var loadBuiltins = sync.OnceValues(newBuiltinSet)

// newBuiltinSet parses the embedded layout and the first (default)
// language's templates; every other language is parsed on its first use
// (TestTemplatesEveryTypeAndLanguage renders them all).
func newBuiltinSet() (*builtinSet, error) {
	set := &builtinSet{byLang: make(map[string]func() (map[string]*builtin, error), len(Languages))}
	layout, err := htmltemplate.ParseFS(embedded, "templates/layout.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse html layout: %w", err)
	}
	set.layout = layout
	for _, lang := range Languages {
		set.byLang[lang] = sync.OnceValues(func() (map[string]*builtin, error) { return parseLanguage(lang) })
	}
	if _, err := set.lang(Languages[0]); err != nil {
		return nil, err
	}
	return set, nil
}

// parseLanguage parses the embedded templates of one language.
func parseLanguage(lang string) (map[string]*builtin, error) {
	raw, err := embedded.ReadFile("templates/locales/" + lang + ".json")
	if err != nil {
		return nil, fmt.Errorf("read locale %s: %w", lang, err)
	}
	var entries map[string]localeEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("decode locale %s: %w", lang, err)
	}
	types := make(map[string]*builtin, len(entries))
	for typ, e := range entries {
		if _, ok := kinds[typ]; !ok {
			return nil, fmt.Errorf("locale %s: unknown template type %q", lang, typ)
		}
		b, err := parseEntry(lang+"/"+typ, e)
		if err != nil {
			return nil, fmt.Errorf("locale %s: %w", lang, err)
		}
		types[typ] = b
	}
	return types, nil
}

func parseEntry(name string, e localeEntry) (*builtin, error) {
	parse := func(part, s string) (*texttemplate.Template, error) {
		t, err := texttemplate.New(name + "/" + part).Option("missingkey=error").Parse(s)
		if err != nil {
			return nil, fmt.Errorf("parse %s/%s: %w", name, part, err)
		}
		return t, nil
	}
	var b builtin
	var err error
	if b.subject, err = parse("subject", e.Subject); err != nil {
		return nil, err
	}
	if b.button, err = parse("button", e.Button); err != nil {
		return nil, err
	}
	if b.sms, err = parse("sms", e.SMS); err != nil {
		return nil, err
	}
	for i, s := range e.Intro {
		t, err := parse(fmt.Sprintf("intro%d", i), s)
		if err != nil {
			return nil, err
		}
		b.intro = append(b.intro, t)
	}
	for i, s := range e.Outro {
		t, err := parse(fmt.Sprintf("outro%d", i), s)
		if err != nil {
			return nil, err
		}
		b.outro = append(b.outro, t)
	}
	return &b, nil
}

// overrideParts holds an operator's templates for one type (and possibly one
// language); nil fields keep what comes below.
type overrideParts struct {
	subject   *texttemplate.Template
	plaintext *texttemplate.Template
	html      *htmltemplate.Template
	sms       *texttemplate.Template
}

// Templates renders messages from the built-in templates and an operator's
// overrides. It is safe for concurrent use.
type Templates struct {
	builtins *builtinSet
	// byType are the per-type overrides from configuration (all languages).
	byType map[string]*overrideParts
	// byDir are the overrides from the override directory, keyed by type
	// and then by language ("" for the language-independent file).
	byDir map[string]map[string]*overrideParts
}

// NewTemplates loads the built-in templates, the templates in overrideDir
// (may be empty) and the per-type overrides (may be nil). An override
// directory holds, per type, <dir>/<path>/email.subject.gotmpl,
// email.body.gotmpl (HTML), email.body.plaintext.gotmpl and sms.body.gotmpl,
// each optionally per language as email.subject.<lang>.gotmpl; <path> is
// Kratos' layout for Kratos types (recovery_code/valid, login_code/valid …)
// and hanko/<type> for Hanko types. It returns an error naming the file or
// type when a template cannot be read or parsed, or a type is unknown.
func NewTemplates(overrideDir string, overrides map[string]TemplateOverride) (*Templates, error) {
	b, err := loadBuiltins()
	if err != nil {
		return nil, fmt.Errorf("courier templates: %w", err)
	}
	t := &Templates{builtins: b, byType: map[string]*overrideParts{}, byDir: map[string]map[string]*overrideParts{}}
	for typ, o := range overrides {
		if _, ok := kinds[typ]; !ok {
			return nil, fmt.Errorf("courier template override: unknown template type %q", typ)
		}
		p, err := loadOverride(typ, o)
		if err != nil {
			return nil, fmt.Errorf("courier template override %s: %w", typ, err)
		}
		t.byType[typ] = p
	}
	if overrideDir != "" {
		if err := t.loadDir(overrideDir); err != nil {
			return nil, fmt.Errorf("courier template override path: %w", err)
		}
	}
	return t, nil
}

func (t *Templates) loadDir(dir string) error {
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	for typ, k := range kinds {
		for _, lang := range append([]string{""}, Languages...) {
			suffix := ".gotmpl"
			if lang != "" {
				suffix = "." + lang + suffix
			}
			var p overrideParts
			found := false
			for _, part := range []string{partSubject, partPlaintext, partHTML, partSMS} {
				name := filepath.Join(dir, filepath.FromSlash(k.dir), part+suffix)
				raw, err := os.ReadFile(name)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return fmt.Errorf("read %s: %w", name, err)
				}
				if err := p.set(part, name, string(raw)); err != nil {
					return err
				}
				found = true
			}
			if found {
				if t.byDir[typ] == nil {
					t.byDir[typ] = map[string]*overrideParts{}
				}
				t.byDir[typ][lang] = &p
			}
		}
	}
	return nil
}

func loadOverride(typ string, o TemplateOverride) (*overrideParts, error) {
	var p overrideParts
	for part, u := range map[string]string{partSubject: o.Subject, partPlaintext: o.Plaintext, partHTML: o.HTML, partSMS: o.SMS} {
		if u == "" {
			continue
		}
		src, err := fetchTemplate(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", part, err)
		}
		if err := p.set(part, typ+"/"+part, src); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

func (p *overrideParts) set(part, name, src string) error {
	var err error
	switch part {
	case partSubject:
		p.subject, err = texttemplate.New(name).Parse(src)
	case partPlaintext:
		p.plaintext, err = texttemplate.New(name).Parse(src)
	case partHTML:
		p.html, err = htmltemplate.New(name).Parse(src)
	case partSMS:
		p.sms, err = texttemplate.New(name).Parse(src)
	}
	if err != nil {
		return fmt.Errorf("parse %s: %w", name, err)
	}
	return nil
}

// fetchTemplate reads a template URL: file:// or base64://.
func fetchTemplate(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, "base64://"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(raw, "base64://"))
		if err != nil {
			// Kratos accepts URL-safe encodings too.
			b, err = base64.URLEncoding.DecodeString(strings.TrimPrefix(raw, "base64://"))
		}
		if err != nil {
			return "", fmt.Errorf("decode base64 template: %w", err)
		}
		return string(b), nil
	case strings.HasPrefix(raw, "file://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("parse template url: %w", err)
		}
		path := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://relative/path: host is the first path segment.
			path = u.Host + u.Path
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read template: %w", err)
		}
		return string(b), nil
	case strings.HasPrefix(raw, "http://"), strings.HasPrefix(raw, "https://"):
		return fetchHTTP(raw)
	default:
		return "", fmt.Errorf("template url must start with file://, base64://, http:// or https://")
	}
}

// fetchHTTP downloads a template (once, at start) with a timeout and a size
// limit. Errors name the host, never the query.
func fetchHTTP(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("template url is malformed")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(raw)
	if err != nil {
		return "", fmt.Errorf("fetch template from %s: request failed", u.Host)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch template from %s: status %d", u.Host, resp.StatusCode)
	}
	const limit = 1 << 20
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", fmt.Errorf("fetch template from %s: %w", u.Host, err)
	}
	if len(b) > limit {
		return "", fmt.Errorf("fetch template from %s: larger than 1 MiB", u.Host)
	}
	return string(b), nil
}

// part picks the override template for (typ, lang, part): configuration
// first, then the directory's per-language file, then its plain file.
func (t *Templates) override(typ, lang string, pick func(*overrideParts) bool) *overrideParts {
	if p := t.byType[typ]; p != nil && pick(p) {
		return p
	}
	if m := t.byDir[typ]; m != nil {
		if p := m[lang]; p != nil && pick(p) {
			return p
		}
		if p := m[""]; p != nil && pick(p) {
			return p
		}
	}
	return nil
}

// Render renders the template type for the channel in the language (one of
// Languages; anything else falls back by matching, then to "en") with data.
// It returns a *core.Error with CodeInvalid when the type is unknown, the
// channel has no template for it, or data lacks the code or link the type
// shows, and a wrapped error when an operator's template fails.
func (t *Templates) Render(typ string, ch core.MessageChannel, lang string, data map[string]any) (Rendered, error) {
	k, ok := kinds[typ]
	if !ok {
		return Rendered{}, core.Errorf(core.CodeInvalid, "Unknown message template type %q.", typ)
	}
	if ch != core.ChannelEmail && ch != core.ChannelSMS {
		return Rendered{}, core.Errorf(core.CodeInvalid, "Unknown message channel %q.", ch)
	}
	if ch == core.ChannelSMS && !k.sms {
		return Rendered{}, core.Errorf(core.CodeInvalid, "Template type %q cannot be sent by SMS.", typ)
	}
	if k.code != "" && !present(data, k.code) {
		return Rendered{}, core.Errorf(core.CodeInvalid, "Template data lacks %s.", k.code)
	}
	if k.linkRequired && !present(data, k.link) {
		return Rendered{}, core.Errorf(core.CodeInvalid, "Template data lacks %s.", k.link)
	}
	lang = normalizeLanguage(lang)
	types, err := t.builtins.lang(lang)
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s: %w", typ, err)
	}
	b := types[typ]
	if b == nil {
		types, _ = t.builtins.lang(Languages[0]) // parsed by loadBuiltins
		b = types[typ]
	}
	if b == nil {
		return Rendered{}, fmt.Errorf("render %s: no built-in template", typ)
	}

	var r Rendered
	if ch == core.ChannelSMS {
		if p := t.override(typ, lang, func(p *overrideParts) bool { return p.sms != nil }); p != nil {
			r.SMS, err = execText(p.sms, data)
		} else {
			r.SMS, err = execText(b.sms, data)
		}
		if err != nil {
			return Rendered{}, fmt.Errorf("render %s sms: %w", typ, err)
		}
		r.SMS = strings.TrimSpace(r.SMS)
		return r, nil
	}

	if p := t.override(typ, lang, func(p *overrideParts) bool { return p.subject != nil }); p != nil {
		r.Subject, err = execText(p.subject, data)
	} else {
		r.Subject, err = execText(b.subject, data)
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s subject: %w", typ, err)
	}
	r.Subject = cleanSubject(r.Subject)

	// The built-in bodies share one structure; compute it only if needed.
	var doc *document
	builtinDoc := func() (*document, error) {
		if doc != nil {
			return doc, nil
		}
		d, err := b.document(k, lang, r.Subject, data)
		doc = d
		return d, err
	}

	if p := t.override(typ, lang, func(p *overrideParts) bool { return p.plaintext != nil }); p != nil {
		r.Text, err = execText(p.plaintext, data)
	} else {
		var d *document
		if d, err = builtinDoc(); err == nil {
			r.Text = d.text()
		}
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s plain text: %w", typ, err)
	}

	var buf bytes.Buffer
	if p := t.override(typ, lang, func(p *overrideParts) bool { return p.html != nil }); p != nil {
		err = p.html.Execute(&buf, data)
	} else {
		var d *document
		if d, err = builtinDoc(); err == nil {
			err = t.builtins.layout.Execute(&buf, d)
		}
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s html: %w", typ, err)
	}
	r.HTML = buf.String()
	return r, nil
}

// document is the language-independent structure of a built-in e-mail: the
// data of the HTML layout and of the plain-text body.
type document struct {
	Lang    string
	Subject string
	Intro   []string
	Code    string
	Link    string
	Button  string
	Outro   []string
}

func (b *builtin) document(k kind, lang, subject string, data map[string]any) (*document, error) {
	d := &document{Lang: lang, Subject: subject}
	var err error
	for _, t := range b.intro {
		s, err := execText(t, data)
		if err != nil {
			return nil, err
		}
		d.Intro = append(d.Intro, s)
	}
	for _, t := range b.outro {
		s, err := execText(t, data)
		if err != nil {
			return nil, err
		}
		d.Outro = append(d.Outro, s)
	}
	if k.code != "" {
		d.Code = fmt.Sprint(data[k.code])
	}
	if k.link != "" && present(data, k.link) {
		d.Link = fmt.Sprint(data[k.link])
		if d.Button, err = execText(b.button, data); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// text is the plain-text body: paragraphs separated by blank lines, the code
// indented on its own line, the link bare.
func (d *document) text() string {
	var parts []string
	parts = append(parts, d.Intro...)
	if d.Code != "" {
		parts = append(parts, "    "+d.Code)
	}
	if d.Link != "" {
		parts = append(parts, d.Link)
	}
	parts = append(parts, d.Outro...)
	return strings.Join(parts, "\n\n") + "\n"
}

func execText(t *texttemplate.Template, data map[string]any) (string, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func present(data map[string]any, key string) bool {
	v, ok := data[key]
	return ok && v != nil && fmt.Sprint(v) != ""
}

// cleanSubject makes a subject safe for a header: CR, LF and other control
// characters become spaces, runs of spaces collapse.
func cleanSubject(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
