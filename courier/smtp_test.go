package courier

import (
	"context"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier/couriertest"
)

func TestSMTPSenderDeliversMultipartMail(t *testing.T) {
	t.Parallel()
	box := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
	addr := box.Addr()
	s, err := NewSMTP(SMTPOptions{
		ConnectionURI: "smtp://" + addr + "/?disable_starttls=true",
		FromAddress:   "no-reply@latchkey.test",
		FromName:      "Latchkey Test",
		Headers:       map[string]string{"X-Tenant": "acme"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{ServiceName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]string{}
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			out, _, err := c.Render(Request{
				TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Recipient: "user@example.com",
				Language: lang, Data: map[string]any{"LoginCode": "583920"},
			})
			if err != nil {
				t.Fatal(err)
			}
			m := &core.Message{ID: "m-" + lang, Channel: core.ChannelEmail, Recipient: "user@example.com",
				Subject: out.Subject, Body: out.Text, HTMLBody: out.HTML, TemplateType: TypeLoginCodeValid}
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := box.Next(t)
			if len(got.To) != 1 || got.To[0] != "user@example.com" || got.From != "no-reply@latchkey.test" {
				t.Errorf("envelope from %q to %v", got.From, got.To)
			}
			p := got
			if p.Subject != out.Subject {
				t.Errorf("subject = %q, want %q", p.Subject, out.Subject)
			}
			subjects[lang] = p.Subject
			if !strings.Contains(p.Text, "583920") || !strings.Contains(p.HTML, "583920") {
				t.Errorf("code missing: text %q html %q", p.Text, p.HTML)
			}
			if !strings.Contains(p.HTML, "<html") {
				t.Errorf("html part is not html: %q", p.HTML)
			}
			if h := p.Header.Get("X-Tenant"); h != "acme" {
				t.Errorf("X-Tenant = %q", h)
			}
			if from := p.Header.Get("From"); !strings.Contains(from, "Latchkey Test") || !strings.Contains(from, "no-reply@latchkey.test") {
				t.Errorf("From = %q", from)
			}
		})
	}
	if subjects["de"] == subjects["en"] || subjects["zh"] == subjects["en"] {
		t.Errorf("subjects not per language: %v", subjects)
	}
}

func TestSMTPSenderImplicitTLSWithAuth(t *testing.T) {
	t.Parallel()
	box := couriertest.StartSMTP(t, couriertest.SMTPOptions{ImplicitTLS: true, User: "mailer", Password: "s3cret-pw"})
	addr := box.Addr()
	tests := []struct {
		name    string
		uri     string
		wantErr bool
	}{
		{"verified certificate fails for a self-signed server", "smtps://mailer:s3cret-pw@" + addr + "/", true},
		{"skip_ssl_verify accepts it", "smtps://mailer:s3cret-pw@" + addr + "/?skip_ssl_verify=true", false},
		{"wrong password is refused", "smtps://mailer:wrong@" + addr + "/?skip_ssl_verify=true", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSMTP(SMTPOptions{ConnectionURI: tc.uri, FromAddress: "no-reply@latchkey.test"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), &core.Message{ID: "1", Channel: core.ChannelEmail,
				Recipient: "user@example.com", Subject: "Hi", Body: "plain only"})
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), "s3cret-pw") || strings.Contains(err.Error(), "wrong") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := box.Next(t)
			if got.User != "mailer" {
				t.Errorf("authenticated as %q", got.User)
			}
			if p := got; strings.TrimSpace(p.Text) != "plain only" || p.HTML != "" {
				t.Errorf("text %q html %q", p.Text, p.HTML)
			}
		})
	}
}

func TestNewSMTPRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    SMTPOptions
	}{
		{"bad scheme", SMTPOptions{ConnectionURI: "http://host", FromAddress: "a@b.c"}},
		{"no host", SMTPOptions{ConnectionURI: "smtp:///", FromAddress: "a@b.c"}},
		{"bad port", SMTPOptions{ConnectionURI: "smtp://host:99999", FromAddress: "a@b.c"}},
		{"no from", SMTPOptions{ConnectionURI: "smtp://host"}},
		{"bad from", SMTPOptions{ConnectionURI: "smtp://host", FromAddress: "not an address"}},
		{"header injection", SMTPOptions{ConnectionURI: "smtp://host", FromAddress: "a@b.c", Headers: map[string]string{"X-A": "b\r\nBcc: x@y.z"}}},
		{"from name injection", SMTPOptions{ConnectionURI: "smtp://host", FromAddress: "a@b.c", FromName: "A\nB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewSMTP(tc.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestSMTPServerName: Kratos' server_name parameter names the host the
// server's certificate must carry; without it the URI's host does.
func TestSMTPServerName(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"smtps://10.0.0.5:465/?server_name=mail.example.com": "mail.example.com",
		"smtp://mail.example.com:587/":                       "mail.example.com",
	} {
		s, err := NewSMTP(SMTPOptions{ConnectionURI: uri, FromAddress: "no-reply@latchkey.test"})
		if err != nil {
			t.Fatal(err)
		}
		if s.tlsConfig.ServerName != want {
			t.Errorf("%s: TLS server name %q, want %q", uri, s.tlsConfig.ServerName, want)
		}
	}
}
