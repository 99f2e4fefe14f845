package main

import (
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError answers a flag cobra could not parse, suggesting the nearest
// flag the command has (as cobra does for mistyped subcommands).
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if s := nearestFlag(c, name); s != "" {
			msg += fmt.Sprintf("; did you mean --%s?", s)
		}
	}
	return exitError{code: 2, msg: fmt.Sprintf("Error: %s\nRun '%s --help' for the flags it takes.", msg, c.CommandPath())}
}

// nearestFlag returns the command's flag closest to name (at most two
// edits away, or one that starts with it), or "".
func nearestFlag(c *cobra.Command, name string) string {
	best, bestD := "", 3
	c.Flags().VisitAll(func(f *pflag.Flag) {
		d := config.EditDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) && d > 1 {
			d = 2
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}
