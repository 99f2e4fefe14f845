package courier

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
)

// sampleData returns template data for typ with a recognisable code and
// link.
func sampleData(typ string) map[string]any {
	d := map[string]any{"ServiceName": "Acme", "To": "user@example.com"}
	k := kinds[typ]
	if k.code != "" {
		d[k.code] = "739164"
	}
	if k.link != "" {
		d[k.link] = "https://id.example.com/self-service/recovery?flow=f1&token=t0k3n"
	}
	return d
}

func TestTemplatesEveryTypeAndLanguage(t *testing.T) {
	t.Parallel()
	tpl, err := NewTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range TemplateTypes() {
		k := kinds[typ]
		english, err := tpl.Render(typ, core.ChannelEmail, "en", sampleData(typ))
		if err != nil {
			t.Fatalf("%s/en: %v", typ, err)
		}
		for _, lang := range Languages {
			t.Run(typ+"/"+lang, func(t *testing.T) {
				t.Parallel()
				data := sampleData(typ)
				r, err := tpl.Render(typ, core.ChannelEmail, lang, data)
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				if r.Subject == "" || strings.TrimSpace(r.Text) == "" || r.HTML == "" {
					t.Fatalf("empty part: %+v", r)
				}
				if strings.Contains(r.Subject+r.Text+r.HTML, "<no value>") {
					t.Errorf("a template refers to missing data: %+v", r)
				}
				if lang != "en" && r.Subject == english.Subject {
					t.Errorf("subject is not translated: %q", r.Subject)
				}
				if !strings.Contains(r.HTML, `lang="`+lang+`"`) {
					t.Errorf("html lacks lang=%q", lang)
				}
				if k.code != "" {
					for part, s := range map[string]string{"text": r.Text, "html": r.HTML} {
						if !strings.Contains(s, "739164") {
							t.Errorf("%s body lacks the code:\n%s", part, s)
						}
					}
				}
				if k.link != "" {
					if !strings.Contains(r.Text, "https://id.example.com/self-service/recovery?flow=f1&token=t0k3n") {
						t.Errorf("text body lacks the link:\n%s", r.Text)
					}
					if !strings.Contains(r.HTML, `href="https://id.example.com/self-service/recovery?flow=f1&amp;token=t0k3n"`) {
						t.Errorf("html body lacks the link:\n%s", r.HTML)
					}
				}
				if k.sms {
					s, err := tpl.Render(typ, core.ChannelSMS, lang, data)
					if err != nil {
						t.Fatalf("render sms: %v", err)
					}
					if !strings.Contains(s.SMS, "739164") || s.Subject != "" || s.HTML != "" {
						t.Errorf("sms = %+v", s)
					}
				}
			})
		}
	}
}

func TestTemplatesEscapingAndErrors(t *testing.T) {
	t.Parallel()
	tpl, err := NewTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		typ     string
		ch      core.MessageChannel
		data    map[string]any
		check   func(t *testing.T, r Rendered)
		wantErr bool
	}{
		{
			name: "user data is escaped in html",
			typ:  TypeHankoEmailCreate, ch: core.ChannelEmail,
			data: map[string]any{"ServiceName": "Acme", "Address": `<script>alert("x")</script>@example.com`},
			check: func(t *testing.T, r Rendered) {
				if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;") {
					t.Errorf("html not escaped:\n%s", r.HTML)
				}
			},
		},
		{
			name: "a javascript link is neutralised",
			typ:  TypeRecoveryValid, ch: core.ChannelEmail,
			data: map[string]any{"RecoveryURL": "javascript:alert(1)"},
			check: func(t *testing.T, r Rendered) {
				if strings.Contains(r.HTML, `href="javascript:`) {
					t.Errorf("javascript link kept:\n%s", r.HTML)
				}
			},
		},
		{
			name: "subject has no header injection",
			typ:  TypeHankoLogin, ch: core.ChannelEmail,
			data: map[string]any{"Code": "123456", "ServiceName": "Acme\r\nBcc: victim@example.com"},
			check: func(t *testing.T, r Rendered) {
				if strings.ContainsAny(r.Subject, "\r\n") {
					t.Errorf("subject has a line break: %q", r.Subject)
				}
			},
		},
		{name: "unknown type", typ: "nope", ch: core.ChannelEmail, data: map[string]any{}, wantErr: true},
		{name: "unknown channel", typ: TypeLoginCodeValid, ch: "pigeon", data: map[string]any{"LoginCode": "1"}, wantErr: true},
		{name: "missing code", typ: TypeLoginCodeValid, ch: core.ChannelEmail, data: map[string]any{}, wantErr: true},
		{name: "missing link", typ: TypeVerificationValid, ch: core.ChannelEmail, data: map[string]any{}, wantErr: true},
		{name: "no sms for a link", typ: TypeRecoveryValid, ch: core.ChannelSMS, data: map[string]any{"RecoveryURL": "https://x"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := tpl.Render(tc.typ, tc.ch, "en", tc.data)
			if tc.wantErr {
				if core.ErrorCode(err) != core.CodeInvalid {
					t.Fatalf("err = %v, want code invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestTemplateOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("login_code/valid/email.subject.gotmpl", "Custom login for {{ .To }}")
	write("login_code/valid/email.subject.de.gotmpl", "Eigene Anmeldung")
	write("login_code/valid/email.body.plaintext.gotmpl", "code={{ .LoginCode }}")
	write("hanko/login/sms.body.gotmpl", "SMS {{ .Code }}")
	htmlFile := filepath.Join(t.TempDir(), "body.html")
	if err := os.WriteFile(htmlFile, []byte(`<b>{{ .LoginCode }}</b> {{ .Evil }}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tpl, err := NewTemplates(dir, map[string]TemplateOverride{
		TypeLoginCodeValid:    {HTML: "file://" + htmlFile},
		TypeRecoveryCodeValid: {Subject: "base64://" + base64.StdEncoding.EncodeToString([]byte("Recover {{ .RecoveryCode }}"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		typ, lang           string
		ch                  core.MessageChannel
		data                map[string]any
		subject, text, html string
		sms                 string
		builtinText         bool
	}{
		{
			name: "directory and file url", typ: TypeLoginCodeValid, lang: "en", ch: core.ChannelEmail,
			data:    map[string]any{"LoginCode": "424242", "To": "a@example.com", "Evil": "<i>"},
			subject: "Custom login for a@example.com", text: "code=424242", html: "<b>424242</b> &lt;i&gt;",
		},
		{
			name: "per-language directory file", typ: TypeLoginCodeValid, lang: "de", ch: core.ChannelEmail,
			data:    map[string]any{"LoginCode": "424242", "To": "a@example.com", "Evil": ""},
			subject: "Eigene Anmeldung", text: "code=424242", html: "<b>424242</b> ",
		},
		{
			name: "base64 subject, built-in bodies", typ: TypeRecoveryCodeValid, lang: "fr", ch: core.ChannelEmail,
			data:    map[string]any{"RecoveryCode": "111222"},
			subject: "Recover 111222", builtinText: true,
		},
		{
			name: "sms from directory", typ: TypeHankoLogin, lang: "en", ch: core.ChannelSMS,
			data: map[string]any{"Code": "999000"}, sms: "SMS 999000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := tpl.Render(tc.typ, tc.ch, tc.lang, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if tc.sms != "" {
				if r.SMS != tc.sms {
					t.Errorf("sms = %q, want %q", r.SMS, tc.sms)
				}
				return
			}
			if r.Subject != tc.subject {
				t.Errorf("subject = %q, want %q", r.Subject, tc.subject)
			}
			if tc.builtinText {
				if !strings.Contains(r.Text, "111222") || !strings.Contains(r.Text, "Bonjour") {
					t.Errorf("built-in text expected, got %q", r.Text)
				}
				return
			}
			if r.Text != tc.text {
				t.Errorf("text = %q, want %q", r.Text, tc.text)
			}
			if r.HTML != tc.html {
				t.Errorf("html = %q, want %q", r.HTML, tc.html)
			}
		})
	}
}

func TestTemplateOverrideErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dir       string
		overrides map[string]TemplateOverride
	}{
		{"unknown type", "", map[string]TemplateOverride{"nope": {Subject: "base64://eA=="}}},
		{"unsupported scheme", "", map[string]TemplateOverride{TypeLoginCodeValid: {Subject: "ftp://x"}}},
		{"bad base64", "", map[string]TemplateOverride{TypeLoginCodeValid: {Subject: "base64://%%%"}}},
		{"missing file", "", map[string]TemplateOverride{TypeLoginCodeValid: {Subject: "file:///does/not/exist"}}},
		{"bad template", "", map[string]TemplateOverride{TypeLoginCodeValid: {Subject: "base64://" + base64.StdEncoding.EncodeToString([]byte("{{ .X "))}}},
		{"missing directory", "/does/not/exist", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewTemplates(tc.dir, tc.overrides); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
