//go:build unix

package main

import (
	"strings"
	"testing"
)

// TestOIDCLoginWrites counts what one oidc-login op of a linked account
// writes: the new flow, the flow's round trip to the provider, and the
// callback's step, whose transaction issues the session too (one write
// transaction each); and its statements: the flow's insert and two
// updates, its reads by the submission and by the callback, the identity
// (with its addresses, not its credentials) looked up by the provider's
// subject, and the session's insert.
func TestOIDCLoginWrites(t *testing.T) {
	hp, login := newOIDCLogin(t)
	log := &statementLog{}
	hp.app.db.Trace(log)
	log.start()
	login()
	stmts, txs := log.stop()
	if txs != 3 || len(stmts) != 7 {
		t.Errorf("an oidc login ran %d statements in %d write transactions, want 7 in 3:\n%s", len(stmts), txs, strings.Join(stmts, "\n"))
	}
}
