package couriertest_test

import (
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// send delivers raw (with \n line ends) to the server at addr; it may run
// in another goroutine, so it reports failures with t.Errorf.
func send(t *testing.T, addr, to, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if err := smtp.SendMail(addr, nil, "from@example.com", []string{to}, []byte(raw)); err != nil {
		t.Errorf("send: %v", err)
	}
}

func TestStartSMTPDecodesMail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		raw                 string
		subject, text, html string
	}{
		{"plain", "Subject: Hello\nContent-Type: text/plain\n\ncode 123456\n", "Hello", "code 123456\r\n", ""},
		{"encoded subject, quoted-printable",
			"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nS=C3=BC=\nss\n",
			"Grüße", "Süss\r\n", ""},
		{"base64", "Subject: B\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nY29kZSA5\nODc2NTQ=\n", "B", "code 987654", ""},
		{"multipart",
			"Subject: M\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nthe text\n--XX\nContent-Type: text/html\n\n<p>the html</p>\n--XX--\n",
			"M", "the text", "<p>the html</p>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
			send(t, srv.Addr(), "User@Example.com", tc.raw)
			m := srv.Next(t)
			if m.Subject != tc.subject || m.Text != tc.text || m.HTML != tc.html {
				t.Errorf("got subject %q text %q html %q, want %q %q %q", m.Subject, m.Text, m.HTML, tc.subject, tc.text, tc.html)
			}
			if m.From != "from@example.com" || len(m.To) != 1 || m.Plain() != m.Subject+"\n"+m.Text {
				t.Errorf("envelope from %q to %v, plain %q", m.From, m.To, m.Plain())
			}
			if got := srv.To("user@example.com"); len(got) != 1 {
				t.Errorf("To (case-insensitive) found %d mails, want 1", len(got))
			}
		})
	}
}

func TestSMTPServerWaits(t *testing.T) {
	t.Parallel()
	srv := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
	sent := make(chan struct{})
	defer func() { <-sent }() // before the server closes
	go func() {
		defer close(sent)
		time.Sleep(50 * time.Millisecond)
		send(t, srv.Addr(), "a@example.com", "Subject: first\n\ncode 111111\n")
		send(t, srv.Addr(), "b@example.com", "Subject: other\n\nnot for a\n")
		send(t, srv.Addr(), "a@example.com", "Subject: second\n\ncode 222222\n")
	}()
	if m := srv.Wait(t, "a@example.com", 2); m.Subject != "second" {
		t.Errorf("Wait #2 = %q, want second", m.Subject)
	}
	if m := srv.WaitFor(t, "a@example.com", "111111"); m.Subject != "first" {
		t.Errorf("WaitFor = %q, want first", m.Subject)
	}
	var order []string
	for range 3 {
		order = append(order, srv.Next(t).Subject)
	}
	if strings.Join(order, ",") != "first,other,second" {
		t.Errorf("Next order = %v", order)
	}
	if n := len(srv.Mails()); n != 3 {
		t.Errorf("Mails = %d, want 3", n)
	}
}
