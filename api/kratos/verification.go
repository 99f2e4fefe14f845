package kratos

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// verificationHook is the VerificationHook the face installs: after a
// registration (or a settings change of addresses) it starts one
// verification flow per unverified verifiable e-mail address of the
// identity, in state sent_email with the code or link already enqueued
// (flow creation and message commit together), and returns a
// show_verification_ui entry for each; the URL is set for browser flows
// only, as Kratos does.
func (s *SelfService) verificationHook(ctx context.Context, r *http.Request, i *core.Identity, flowType string) ([]ContinueWith, error) {
	if !s.addressFlowEnabled(core.FlowVerification) || len(s.addressStrategies(core.FlowVerification)) == 0 {
		return nil, nil
	}
	var out []ContinueWith
	for _, a := range i.Addresses {
		if a.Via != core.ViaEmail || !a.Verifiable || a.Verified {
			continue
		}
		addr := a.Value
		reqURL := s.url("self-service/verification/"+flowType, nil)
		init := flow.Init{Face: "kratos", Type: flowType, IdentityID: i.ID, Seed: func(st *flow.Stash) {
			keyRequestURL.Set(st, reqURL)
			keyAddress.Set(st, addr)
		}}
		sctx := context.WithValue(ctx, stepInfoKey{}, &stepInfo{r: r, typ: flowType})
		res, err := s.engine.Start(sctx, s.addr.sent, init)
		if err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Starting the verification flow failed.", Cause: err}
		}
		cw := ContinueWith{Action: "show_verification_ui", Flow: &ContinueWithFlow{ID: res.Flow.ID, VerifiableAddress: addr}}
		if flowType == "browser" {
			cw.Flow.URL = s.uiURL(core.FlowVerification, res.Flow.ID)
		}
		out = append(out, cw)
	}
	return out, nil
}

// sendOnStart is the BeforeState hook of verification flows the hook
// starts in sent_email: it sends to the seeded address in the transaction
// that creates the flow.
func (s *SelfService) sendOnStart(c *flow.Context) error {
	addr := val(keyAddress, c.Stash())
	err := s.sendToAddress(c, core.FlowVerification, s.addressUse(core.FlowVerification), addr)
	if errors.Is(err, errFormInvalid) {
		return fmt.Errorf("verification address %q is not an e-mail address", addr)
	}
	return err
}
