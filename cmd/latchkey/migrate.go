package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Manage the database schema",
	}
	cmd.AddCommand(newMigrateSQLCmd())
	return cmd
}

func newMigrateSQLCmd() *cobra.Command {
	var (
		dsn, file string
		asJSON    bool
	)
	sqlCmd := &cobra.Command{
		Use:   "sql",
		Short: "Apply all pending migrations (running it twice is a no-op)",
		Long: `Apply all pending schema migrations to the database named by --dsn (or by
the dsn key of --config / LATCHKEY_DSN).

DSN forms:
  sqlite://path/to/latchkey.db     sqlite://:memory:
  postgres://user@host:5432/db?sslmode=disable
  mysql://user:password@tcp(host:3306)/db?parseTime=true`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := resolveDSN(dsn, file)
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := resolveDSN(dsn, file)
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
		c.Flags().StringVarP(&file, "config", "c", "", "config file to read the dsn from")
		c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	}
	sqlCmd.AddCommand(statusCmd)
	return sqlCmd
}
