package hanko

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/courier/couriertest"
)

// deliverMail runs the courier worker over e's store until the queue is
// empty, delivering to box over SMTP.
func deliverMail(t *testing.T, e *fEnv, box *couriertest.SMTPServer) {
	t.Helper()
	sender, err := courier.NewSMTP(courier.SMTPOptions{ConnectionURI: "smtp://" + box.Addr() + "/?disable_starttls=true",
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
	box := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
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
			deliverMail(t, e, box)
			mails := box.To("mia@example.com")
			if len(mails) != n+1 {
				t.Fatalf("%d mails delivered, want %d", len(mails), n+1)
			}
			m := mails[n]
			if !strings.Contains(m.Subject, tc.subject) {
				t.Errorf("subject %q is not the %s login mail", m.Subject, tc.lang)
			}
			code := sixDigits.FindString(m.Plain())
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
