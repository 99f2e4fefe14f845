package kratos_test

import (
	"testing"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// TestSettingsMailsOnlyNewAddresses pins Kratos' settings verification
// hook: saving settings mails a verification code to an address not mailed
// yet (a new e-mail), never again to one the registration already mailed.
// Found by e2e/kratos-sdk: a profile change re-sent the registration's
// verification mail on every save.
func TestSettingsMailsOnlyNewAddresses(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "noel@example.com", "correct horse battery")
		box.Wait(t, "noel@example.com", 1).Plain()

		settings := func(traits map[string]any) resp {
			t.Helper()
			f := c.do("GET", "/self-service/settings/api", nil)
			must(t, f, 200)
			r := c.do("POST", "/self-service/settings?flow="+flowID(t, f), map[string]any{"method": "profile", "traits": traits})
			must(t, r, 200)
			return r
		}

		// A name change: the unverified address was mailed at registration.
		r := settings(map[string]any{"email": "noel@example.com", "name": "Noel"})
		if cw := continueWith(t, r); cw["show_verification_ui"] != nil {
			t.Errorf("name change started a verification: %s", r.body)
		}

		// A new address: mailed once, and offered in continue_with.
		r = settings(map[string]any{"email": "noel.new@example.com", "name": "Noel"})
		cw := continueWith(t, r)["show_verification_ui"]
		if cw == nil || cw["flow"].(map[string]any)["verifiable_address"] != "noel.new@example.com" {
			t.Fatalf("new address: %s", r.body)
		}
		box.Wait(t, "noel.new@example.com", 1).Plain()

		// Saving again mails neither address.
		r = settings(map[string]any{"email": "noel.new@example.com", "name": "Noel N."})
		if cw := continueWith(t, r); cw["show_verification_ui"] != nil {
			t.Errorf("second save started a verification: %s", r.body)
		}
		// The courier delivers in order: a mail queued by the saves above
		// would be in before this one.
		v := e.native(t)
		f := v.do("GET", "/self-service/verification/api", nil)
		must(t, v.do("POST", "/self-service/verification?flow="+flowID(t, f),
			map[string]any{"method": "code", "email": "noel.new@example.com"}), 200)
		box.Wait(t, "noel.new@example.com", 2).Plain()
		if n := len(box.To("noel@example.com")); n != 1 {
			t.Errorf("%d mails to the registration address, want 1", n)
		}
		if n := len(box.To("noel.new@example.com")); n != 2 {
			t.Errorf("%d mails to the new address, want 2 (settings, then the verification flow)", n)
		}
	})
}
