//go:build unix

package main

import (
	"strings"
	"testing"
)

// TestOIDCLoginWrites counts what one oidc-login op of a linked account
// writes: the new flow and the callback's step, whose transaction issues
// the session too (one write transaction each); the submission that sends
// the browser to the provider writes nothing (the round trip's state is
// sealed in the browser's state cookie). And its statements: the flow's
// insert and update, its reads by the submission and by the callback, the
// identity looked up by the provider's subject (with its addresses; with
// its credentials too when a second factor is enabled, which deciding on
// a step-up reads, as in bench/run.sh's server), and the session's insert.
func TestOIDCLoginWrites(t *testing.T) {
	for _, tc := range []struct {
		name       string
		totp       bool
		stmts, txs int
	}{
		{"no second factor", false, 6, 2},
		{"totp enabled", true, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.totp {
				t.Setenv("LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED", "true")
			}
			hp, login := newOIDCLogin(t)
			log := &statementLog{}
			hp.app.db.Trace(log)
			log.start()
			login()
			stmts, txs := log.stop()
			if txs != tc.txs || len(stmts) != tc.stmts {
				t.Errorf("an oidc login ran %d statements in %d write transactions, want %d in %d:\n%s", len(stmts), txs, tc.stmts, tc.txs, strings.Join(stmts, "\n"))
			}
		})
	}
}
