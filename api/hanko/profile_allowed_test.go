package hanko

import (
	"encoding/json"
	"slices"
	"testing"
)

// allowedValues returns the values of an input's allowed_values in r (nil
// when the input has none), failing when the action or input is missing.
func allowedValues(t *testing.T, r *flowResp, action, input string) []string {
	t.Helper()
	a, ok := r.Actions[action]
	if !ok {
		t.Fatalf("%s not offered in %s: %v", action, r.Name, actionNames(r))
	}
	in, ok := a.Inputs[input]
	if !ok {
		t.Fatalf("%s has no input %s: %v", action, input, a.Inputs)
	}
	var out []string
	list, _ := in["allowed_values"].([]any)
	for _, v := range list {
		out = append(out, v.(map[string]any)["value"].(string))
	}
	return out
}

// TestProfileInitAllowedValues pins what hanko-profile needs from
// profile_init: email_delete is offered to every signed-in user (elements
// 2.7.0 reads actions.email_delete.inputs.email_id.allowed_values without a
// guard and renders nothing when the action is missing), its allowed values
// name the addresses that may be deleted (never the primary), and
// session_delete's name the user's other sessions, never the current one;
// the password input carries max_length. Found by e2e/hanko-elements.
func TestProfileInitAllowedValues(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	e.createUser(t, "hal@example.com", "hal's password")
	login := e.client(t)
	checkSession(t, e, login, passwordLogin(t, login, "hal@example.com", "hal's password"), AMRPassword)
	other := e.client(t)
	otherSession := checkSession(t, e, other, passwordLogin(t, other, "hal@example.com", "hal's password"), AMRPassword).SessionID

	cl := e.client(t)
	cl.bearer = login.bearer
	mustState(t, cl.start("profile"), statePreflight, 200)
	r := cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
	mustState(t, r, stateProfileInit, 200)
	if got := allowedValues(t, r, "email_delete", "email_id"); len(got) != 0 {
		t.Errorf("the only (primary) address is deletable: %v", got)
	}
	// hanko-profile formats min_length and max_length into its password
	// hint; Hanko declares 72 (bcrypt's limit).
	if in := r.Actions["password_update"].Inputs["password"]; in["max_length"] != float64(72) || in["min_length"] == nil {
		t.Errorf("password_update input %v, want min_length and max_length 72", in)
	}
	if got := allowedValues(t, r, "session_delete", "session_id"); !slices.Equal(got, []string{otherSession}) {
		t.Errorf("session_delete allows %v, want only the other session %s", got, otherSession)
	}

	mustState(t, cl.act("email_create", map[string]any{"email": "hal2@example.com"}), statePasscodeConfirmation, 200)
	code, _ := e.lastCode(t, "hal2@example.com")
	r = cl.act("verify_passcode", map[string]any{"code": code})
	mustState(t, r, stateProfileInit, 200)
	var user ProfileJSON
	if err := json.Unmarshal(r.Payload["user"], &user); err != nil || len(user.Emails) != 2 {
		t.Fatalf("user %s (%v)", r.Payload["user"], err)
	}
	if got := allowedValues(t, r, "email_delete", "email_id"); !slices.Equal(got, []string{user.Emails[1].ID}) {
		t.Errorf("email_delete allows %v, want only the second address %s", got, user.Emails[1].ID)
	}

	// Deleting the other session takes it off the list.
	r = cl.act("session_delete", map[string]any{"session_id": otherSession})
	mustState(t, r, stateProfileInit, 200)
	if got := allowedValues(t, r, "session_delete", "session_id"); len(got) != 0 {
		t.Errorf("after deleting the other session, session_delete allows %v", got)
	}
}
