package kratos

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

// recordOutcome counts a committed login or registration step: success
// when the flow ended, failure when the step showed the form again with
// messages; a step that moved on (a code sent, a second screen) is neither.
func (s *SelfService) recordOutcome(kind core.FlowKind, method string, res *flow.Result, o *outcome) {
	if s.outcomes == nil || (kind != core.FlowLogin && kind != core.FlowRegistration) {
		return
	}
	switch {
	case res.Ended:
		s.outcomes.Auth(string(kind), method, "success")
	case o.next == "" && !o.relocate && (len(o.messages) > 0 || len(o.nodeMessages) > 0):
		s.outcomes.Auth(string(kind), method, "failure")
	}
}
