// Command latchkey is the Latchkey identity server: one binary that serves
// Hanko's Flow API and Ory Kratos' Identities API over one identity store.
// This is the only place where the parts are built and wired together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/jsonnet"
)

func main() {
	// A child started to evaluate one Jsonnet program does only that.
	jsonnet.RunWorker()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// exitError carries a message already formatted for people and an exit code.
type exitError struct {
	code int
	msg  string
	err  error // the cause, when there is one (config.Problems for --json)
}

func (e exitError) Error() string { return e.msg }

// Unwrap returns the cause.
func (e exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "latchkey",
		Short: "Latchkey: an identity server with Hanko- and Kratos-compatible APIs",
		Long: `Latchkey is an identity and authentication server. It serves Hanko's Flow API
and Ory Kratos' Identities API over one identity store, so software written for
either works against it unchanged.

Start a development server with no other service:

  latchkey serve --dev`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newServeCmd(),
		newMigrateCmd(),
		newCleanupCmd(),
		newConfigCmd(),
		newKeysCmd(),
		newCourierCmd(),
		newIdentitiesCmd(),
		newBenchCmd(),
		newVersionCmd(),
	)
	return root
}
