package hanko

import (
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// AuthRecorder counts login and registration steps by flow ("login",
// "registration"), method and outcome ("success", "failure"); cmd/latchkey
// hands in the metrics' recorder.
type AuthRecorder interface {
	Auth(flow, method, outcome string)
}

// recordOutcome counts a submitted action of a login or registration flow:
// success when the flow reached success (method: the last authentication
// method used), failure when the action was refused with an error on the
// flow or one of its inputs (method: the action's name).
func (h *Handler) recordOutcome(def *flow.Definition, action string, res *flow.Result) {
	kind := def.Kind()
	if h.outcomes == nil || (kind != core.FlowLogin && kind != core.FlowRegistration) {
		return
	}
	if res.State == stateSuccess {
		method := action
		if amr, _ := keyAMR.Get(res.Stash); len(amr) > 0 {
			method = amr[len(amr)-1]
		}
		h.outcomes.Auth(string(kind), method, "success")
		return
	}
	failed := res.Error != nil
	for _, a := range res.Actions {
		for _, in := range a.Inputs {
			failed = failed || in.Error != nil
		}
	}
	if failed {
		h.outcomes.Auth(string(kind), action, "failure")
	}
}
