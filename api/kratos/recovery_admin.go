package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/store"
)

// Recovery initiated by an administrator (Kratos' createRecoveryCodeForIdentity
// and createRecoveryLinkForIdentity): the admin API creates a recovery flow
// for an identity, already in sent_email, with a code or link token that is
// handed to the admin instead of mailed. The user completes the flow as any
// recovery: the code on the recovery UI, or the link in a browser. Such a
// code proves no address, so none is marked verified, and the flow skips the
// anti-CSRF cookie check (the user's browser never started it).

// keyAdminIssued marks a recovery flow whose code or token the admin API
// issued.
var keyAdminIssued = flow.NewStickyKey[bool]("kratos.address.admin")

// adminIssue carries one admin request into the flow's BeforeState hook and
// the issued secret back out.
type adminIssue struct {
	method string
	ttl    time.Duration
	plain  string
}

type adminIssueKey struct{}

// RecoveryCodeForIdentity is the answer of POST /admin/recovery/code.
type RecoveryCodeForIdentity struct {
	RecoveryLink string    `json:"recovery_link"`
	RecoveryCode string    `json:"recovery_code"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// RecoveryLinkForIdentity is the answer of POST /admin/recovery/link.
type RecoveryLinkForIdentity struct {
	RecoveryLink string    `json:"recovery_link"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// MountAdmin registers the self-service routes of the admin listener:
// POST /admin/recovery/code and POST /admin/recovery/link (wrap the mux in
// AdminPrefix for the un-prefixed paths, and in the admin API key check).
// Without recovery (no AddressFlowOptions, or the flow disabled) they answer
// Kratos' "flow disabled" error.
func (s *SelfService) MountAdmin(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/recovery/code", func(w http.ResponseWriter, r *http.Request) {
		s.adminRecovery(w, r, methodCode)
	})
	mux.HandleFunc("POST /admin/recovery/link", func(w http.ResponseWriter, r *http.Request) {
		s.adminRecovery(w, r, methodLink)
	})
}

// adminRecovery serves both admin recovery endpoints.
func (s *SelfService) adminRecovery(w http.ResponseWriter, r *http.Request, method string) {
	if s.addr == nil || !s.addressFlowEnabled(core.FlowRecovery) {
		s.writeError(w, r, true, flowDisabled(core.FlowRecovery))
		return
	}
	var body struct {
		IdentityID string  `json:"identity_id"`
		ExpiresIn  string  `json:"expires_in"`
		FlowType   *string `json:"flow_type"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInvalid, Message: "The request body is not a JSON object: " + err.Error()})
		return
	}
	if body.IdentityID == "" {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInvalid, Message: `The request body lacks "identity_id".`})
		return
	}
	ttl := s.cfg.Methods.Code.Config.Lifespan
	if method == methodLink {
		ttl = s.cfg.Methods.Link.Config.Lifespan
	}
	if body.ExpiresIn != "" {
		d, err := time.ParseDuration(body.ExpiresIn)
		if err != nil {
			s.writeError(w, r, true, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf(
				`Unable to parse "expires_in" whose format should match "[0-9]+(ns|us|ms|s|m|h)" but did not: %s`, body.ExpiresIn)})
			return
		}
		ttl = d
	}
	if ttl <= 0 {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf(`Value from "expires_in" must result to a future time: %s`, body.ExpiresIn)})
		return
	}
	typ := "browser"
	if body.FlowType != nil && method == methodCode {
		typ = *body.FlowType
	}
	if typ != "browser" && typ != "api" {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf(`Value from "flow_type" is not valid: %q`, typ)})
		return
	}
	var i *core.Identity
	var err error
	id, ok := core.ParseID(body.IdentityID)
	if ok {
		i, err = s.st.GetIdentity(r.Context(), id)
	} else {
		err = store.ErrNotFound // no identity has a malformed id
	}
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, true, &core.Error{Code: core.CodeNotFound, Message: "could not find identity"})
		return
	}
	if err != nil {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Loading the identity failed.", Cause: err})
		return
	}
	def, err := s.addressDefinition(core.FlowRecovery, stateSentEmail).TTL(ttl).
		Hook(flow.BeforeState(stateSentEmail, s.issueAdminSecret)).Build()
	if err != nil {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Creating the flow failed.", Cause: err})
		return
	}
	issue := &adminIssue{method: method, ttl: ttl}
	ctx := context.WithValue(r.Context(), adminIssueKey{}, issue)
	reqURL := requestURL(r, s.public)
	res, err := s.engine.Start(ctx, def, flow.Init{Face: "kratos", Type: typ, IdentityID: i.ID, Seed: func(st *flow.Stash) {
		keyRequestURL.Set(st, reqURL)
	}})
	if err != nil || issue.plain == "" {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Creating the flow failed.", Cause: err})
		return
	}
	expires := res.Flow.ExpiresAt.UTC()
	if method == methodLink {
		api.WriteJSON(w, http.StatusOK, RecoveryLinkForIdentity{
			RecoveryLink: s.linkURL(core.FlowRecovery, res.Flow.ID, "token", issue.plain), ExpiresAt: expires})
		return
	}
	api.WriteJSON(w, http.StatusCreated, RecoveryCodeForIdentity{
		RecoveryLink: s.uiURL(core.FlowRecovery, res.Flow.ID), RecoveryCode: issue.plain, ExpiresAt: expires})
}

// issueAdminSecret is the BeforeState hook of admin-created recovery flows:
// it issues the code or token, bound to the flow and to no address, valid as
// long as the flow.
func (s *SelfService) issueAdminSecret(c *flow.Context) error {
	issue, _ := c.Context().Value(adminIssueKey{}).(*adminIssue)
	if issue == nil {
		return errors.New("kratos: admin recovery flow started without an admin request")
	}
	bind := binding(core.FlowRecovery, c.FlowID(), "")
	var err error
	var plain string
	var stored code.Code
	if issue.method == methodLink {
		plain, stored, err = s.addr.links.IssueToken(bind)
	} else {
		plain, stored, err = s.addr.codes.Issue(bind)
	}
	if err != nil {
		return fmt.Errorf("issue admin recovery %s: %w", issue.method, err)
	}
	stored.ExpiresAt = stored.IssuedAt.Add(issue.ttl)
	st := c.Stash()
	keyAddrMethod.Set(st, issue.method)
	keyAddrCode.Set(st, stored)
	keyAdminIssued.Set(st, true)
	issue.plain = plain
	return nil
}
