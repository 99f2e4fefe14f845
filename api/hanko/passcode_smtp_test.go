package hanko

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/courier"
)

// smtpInbox is an in-process SMTP server: the courier worker delivers the
// flows' mails to it over real SMTP, and tests read passcodes from them as a
// user would.
type smtpInbox struct {
	addr string
	mu   sync.Mutex
	mail map[string][]receivedMail // recipient → mails, oldest first
}

// receivedMail is a delivered mail: decoded subject and text/plain body.
type receivedMail struct {
	Subject, Text string
}

func newSMTPInbox(t *testing.T) *smtpInbox {
	t.Helper()
	box := &smtpInbox{mail: map[string][]receivedMail{}}
	srv := smtp.NewServer(inboxBackend{box})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box
}

type inboxBackend struct{ box *smtpInbox }

func (b inboxBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &inboxSession{box: b.box}, nil
}

type inboxSession struct {
	box *smtpInbox
	to  []string
}

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, strings.ToLower(to))
	return nil
}
func (s *inboxSession) Reset()        { s.to = nil }
func (s *inboxSession) Logout() error { return nil }
func (s *inboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parseMail(raw)
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	for _, to := range s.to {
		s.box.mail[to] = append(s.box.mail[to], m)
	}
	return nil
}

// parseMail decodes a mail's subject and its text/plain part.
func parseMail(raw []byte) receivedMail {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return receivedMail{Text: string(raw)}
	}
	var dec mime.WordDecoder
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	decode := func(cte string, r io.Reader) string {
		if strings.EqualFold(cte, "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, _ := io.ReadAll(r)
		return string(b)
	}
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		return receivedMail{subject, decode(m.Header.Get("Content-Transfer-Encoding"), m.Body)}
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return receivedMail{Subject: subject}
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/plain" {
			return receivedMail{subject, decode(p.Header.Get("Content-Transfer-Encoding"), p)}
		}
	}
}

// all returns the mails delivered to addr so far.
func (b *smtpInbox) all(addr string) []receivedMail {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]receivedMail(nil), b.mail[strings.ToLower(addr)]...)
}

// deliver runs the courier worker over e's store until the queue is empty,
// delivering to the inbox over SMTP.
func (b *smtpInbox) deliver(t *testing.T, e *fEnv) {
	t.Helper()
	sender, err := courier.NewSMTP(courier.SMTPOptions{ConnectionURI: "smtp://" + b.addr + "/?disable_starttls=true",
		FromAddress: "latchkey@example.com", LocalName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := courier.NewWorker(courier.WorkerOptions{Store: e.store, Email: sender,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		n, err := w.Tick(ctx)
		if err != nil {
			t.Fatalf("courier tick: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// TestFlowPasscodeOverSMTP: a passcode login whose code is read from the
// mail the courier worker delivered over real SMTP; the mail is in the
// language of the X-Language header.
func TestFlowPasscodeOverSMTP(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	box := newSMTPInbox(t)
	u := e.createUser(t, "mia@example.com", "")

	cases := []struct {
		name, lang, subject string
	}{
		{"german", "de", "Melden Sie sich mit dem Code"},
		{"english", "en", "Use passcode"},
		{"no header falls back to english", "", "Use passcode"},
	}
	for n, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := e.client(t)
			cl.lang = tc.lang
			toPasscode(t, cl, "mia@example.com")
			box.deliver(t, e)
			mails := box.all("mia@example.com")
			if len(mails) != n+1 {
				t.Fatalf("%d mails delivered, want %d", len(mails), n+1)
			}
			m := mails[n]
			if !strings.Contains(m.Subject, tc.subject) {
				t.Errorf("subject %q is not the %s login mail", m.Subject, tc.lang)
			}
			code := sixDigits.FindString(m.Subject + "\n" + m.Text)
			if code == "" || !strings.Contains(m.Text, code) {
				t.Fatalf("no passcode in mail %q / %q", m.Subject, m.Text)
			}
			c := checkSession(t, e, cl, cl.act("verify_passcode", map[string]any{"code": code}), AMRPasscode)
			if c.Subject != u.ID {
				t.Errorf("sub %s, want %s", c.Subject, u.ID)
			}
		})
	}
}
