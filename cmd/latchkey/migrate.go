package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Manage the database schema",
	}
	// -c is taken before or after sql, as Kratos' docker-compose writes
	// it: migrate -c kratos.yml sql -e --yes.
	var file string
	cmd.PersistentFlags().StringVarP(&file, "config", "c", "", "config file to read the dsn from")
	cmd.AddCommand(newMigrateSQLCmd(&file))
	return cmd
}

// migrateDSN picks the database of migrate sql: the argument (Kratos'
// form), --dsn, the environment alone with -e (Kratos' --read-from-env:
// LATCHKEY_DSN or DSN), or the config's dsn.
func migrateDSN(args []string, dsn, file string, fromEnv bool) (string, error) {
	given := 0
	for _, set := range []bool{len(args) == 1, dsn != "", fromEnv} {
		if set {
			given++
		}
	}
	if given > 1 {
		return "", exitError{code: 2, msg: "Error: give the database one way: as the argument, with --dsn or with --read-from-env."}
	}
	switch {
	case len(args) == 1:
		return args[0], nil
	case fromEnv:
		for _, name := range []string{"LATCHKEY_DSN", "DSN"} {
			if v := os.Getenv(name); v != "" {
				return v, nil
			}
		}
		return "", exitError{code: 2, msg: "No database given: --read-from-env (-e) reads LATCHKEY_DSN or DSN, and neither is set."}
	}
	return resolveDSN(dsn, file)
}

func newMigrateSQLCmd(file *string) *cobra.Command {
	var (
		dsn             string
		asJSON, fromEnv bool
		yes             bool
	)
	sqlCmd := &cobra.Command{
		Use:   "sql [DSN]",
		Short: "Apply all pending migrations (running it twice is a no-op)",
		Long: `Apply all pending schema migrations to the database named by the argument or
--dsn (or by the dsn key of --config / LATCHKEY_DSN / DSN). Kratos' command
lines work as they are: migrate -c kratos.yml sql -e --yes reads the database
from the environment (-e, --read-from-env: LATCHKEY_DSN or DSN), and
migrate sql DSN --yes takes it as the argument; --yes is accepted because
Kratos asks for confirmation without it, and Latchkey never asks.

DSN forms:
  sqlite://path/to/latchkey.db     sqlite://:memory:
  postgres://user@host:5432/db?sslmode=disable
  mysql://user:password@tcp(host:3306)/db?parseTime=true`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := migrateDSN(args, dsn, *file, fromEnv)
			if err != nil {
				return err
			}
			b, err := openBackend(cmd.Context(), d)
			if err != nil {
				return exitError{code: 1, msg: fmt.Sprintf("Error: cannot open the database %s: %v", redactDSN(d), err)}
			}
			defer b.Close()
			start := time.Now()
			n, err := b.Migrate(cmd.Context())
			if err != nil {
				return exitError{code: 1, msg: fmt.Sprintf("Error: migrating %s failed: %v", redactDSN(d), err)}
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"database": redactDSN(d), "applied": n, "duration_ms": time.Since(start).Milliseconds()})
			}
			if n == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "The database schema of %s is up to date; nothing to apply.\n", redactDSN(d))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Applied %d migration(s) to %s in %s.\n", n, redactDSN(d), time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "List the migrations and whether each is applied",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := migrateDSN(args, dsn, *file, fromEnv)
			if err != nil {
				return err
			}
			b, err := openBackend(cmd.Context(), d)
			if err != nil {
				return exitError{code: 1, msg: "Error: cannot open the database: " + err.Error()}
			}
			defer b.Close()
			st, err := b.MigrationStatus(cmd.Context())
			if err != nil {
				return exitError{code: 1, msg: "Error: cannot read the migration status: " + err.Error()}
			}
			if asJSON {
				type row struct {
					Version   int64      `json:"version"`
					Name      string     `json:"name"`
					Applied   bool       `json:"applied"`
					AppliedAt *time.Time `json:"applied_at,omitempty"`
				}
				rows := make([]row, 0, len(st))
				for _, s := range st {
					r := row{Version: s.Version, Name: s.Name, Applied: s.Applied}
					if s.Applied && !s.AppliedAt.IsZero() {
						at := s.AppliedAt
						r.AppliedAt = &at
					}
					rows = append(rows, r)
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS")
			pending := 0
			for _, s := range st {
				state := "pending"
				if s.Applied {
					state = "applied " + s.AppliedAt.Format(time.RFC3339)
				} else {
					pending++
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.Name, state)
			}
			tw.Flush()
			if pending > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%d migration(s) pending: run `latchkey migrate sql`.\n", pending)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{sqlCmd, statusCmd} {
		c.Flags().StringVar(&dsn, "dsn", "", "database DSN (default: the config's dsn / LATCHKEY_DSN)")
		c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
		c.Flags().BoolVarP(&fromEnv, "read-from-env", "e", false, "read the DSN from the environment only (LATCHKEY_DSN or DSN), as Kratos' -e")
	}
	sqlCmd.Flags().BoolVarP(&yes, "yes", "y", false, "accepted for Kratos' command lines (Kratos asks for confirmation without it; Latchkey never asks)")
	sqlCmd.AddCommand(statusCmd)
	return sqlCmd
}
