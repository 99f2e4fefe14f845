package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/config"
)

// swept counts what one clean-up run removed.
type swept struct {
	Flows      int `json:"flows"`
	Sessions   int `json:"sessions"`
	Messages   int `json:"courier_messages"`
	Deliveries int `json:"webhook_deliveries"`
	AuditLogs  int `json:"audit_logs"`
	Counters   int `json:"rate_limit_counters"`
	Devices    int `json:"trusted_devices"`
	Changes    int `json:"session_changes"`
}

func (s swept) total() int {
	return s.Flows + s.Sessions + s.Messages + s.Deliveries + s.AuditLogs + s.Counters + s.Devices + s.Changes
}

// sessionChangeRetention is how long rows of the session change log are
// kept. Each serving process reads them within session.cache.sync_interval
// (at most 1m); one that could not read the log for three intervals drops
// its whole cache, so it never needs a row this old.
const sessionChangeRetention = time.Hour

// sweepOnce removes, in batches of c.BatchSize rows, flows and sessions
// that expired more than c.KeepLast ago, sent or abandoned courier messages
// and web-hook deliveries older than c.Retention.Messages, audit logs older
// than c.Retention.AuditLogs, expired rate-limit counters and Hanko trusted
// devices past their expiry (no grace period: an expired device skips no
// second factor, see api/hanko/device_trust.go) and session change log
// rows older than sessionChangeRetention. A retention
// of 0 keeps those records. It stops at the first error, returning what it
// removed so far.
func sweepOnce(ctx context.Context, db backend, c config.Cleanup, now time.Time) (swept, error) {
	var out swept
	batches := func(n *int, what string, del func(limit int) (int, error)) error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			k, err := del(c.BatchSize)
			*n += k
			if err != nil {
				return fmt.Errorf("clean up %s: %w", what, err)
			}
			if k < c.BatchSize {
				return nil
			}
		}
	}
	keep := now.Add(-c.KeepLast)
	steps := []func() error{
		func() error {
			return batches(&out.Flows, "flows", func(l int) (int, error) { return db.DeleteFlowsExpiredBefore(ctx, keep, l) })
		},
		func() error {
			return batches(&out.Sessions, "sessions", func(l int) (int, error) { return db.DeleteSessionsExpiredBefore(ctx, keep, l) })
		},
		func() error {
			return batches(&out.Devices, "trusted devices", func(l int) (int, error) { return db.DeleteTrustedDevicesExpiredBefore(ctx, now, l) })
		},
		func() error {
			t := now.Add(-sessionChangeRetention)
			return batches(&out.Changes, "session changes", func(l int) (int, error) { return db.DeleteSessionChangesBefore(ctx, t, l) })
		},
	}
	if c.Retention.Messages > 0 {
		t := now.Add(-c.Retention.Messages)
		steps = append(steps,
			func() error {
				return batches(&out.Messages, "courier messages", func(l int) (int, error) { return db.DeleteMessagesFinishedBefore(ctx, t, l) })
			},
			func() error {
				return batches(&out.Deliveries, "web-hook deliveries", func(l int) (int, error) { return db.DeleteDeliveriesFinishedBefore(ctx, t, l) })
			})
	}
	if c.Retention.AuditLogs > 0 {
		t := now.Add(-c.Retention.AuditLogs)
		steps = append(steps, func() error {
			return batches(&out.AuditLogs, "audit logs", func(l int) (int, error) { return db.DeleteAuditLogsCreatedBefore(ctx, t, l) })
		})
	}
	steps = append(steps, func() error {
		n, err := db.DeleteExpiredCounters(ctx, now)
		out.Counters += n
		if err != nil {
			return fmt.Errorf("clean up rate-limit counters: %w", err)
		}
		return nil
	})
	for _, step := range steps {
		if err := step(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// sweeper runs sweepOnce every c.Interval until ctx ends.
func sweeper(ctx context.Context, db backend, c config.Cleanup, log *slog.Logger) {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := sweepOnce(ctx, db, c, time.Now())
			if err != nil && ctx.Err() == nil {
				log.Error("clean-up sweep failed", "error", err)
			}
			if n.total() > 0 {
				log.Info("clean-up sweep", "flows", n.Flows, "sessions", n.Sessions, "courier_messages", n.Messages,
					"webhook_deliveries", n.Deliveries, "audit_logs", n.AuditLogs, "rate_limit_counters", n.Counters, "trusted_devices", n.Devices, "session_changes", n.Changes)
			}
		}
	}
}

func newCleanupCmd() *cobra.Command {
	var (
		dsn, file       string
		keepLast        time.Duration
		batchSize       int
		asJSON, fromEnv bool
	)
	run := func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			if dsn != "" || fromEnv {
				return exitError{code: 2, msg: "Error: give the database either as the argument or with --dsn / --read-from-env, not both."}
			}
			dsn = args[0]
		}
		cfg, err := toolConfig(file)
		if err != nil {
			return err
		}
		c := cfg.Cleanup
		if dsn == "" {
			dsn = cfg.DSN
		}
		if dsn == "" {
			return exitError{code: 2, msg: "No database given: pass it as the argument or with --dsn, set dsn in the config file, or set LATCHKEY_DSN."}
		}
		if cmd.Flags().Changed("keep-last") {
			if keepLast < 0 {
				return exitError{code: 2, msg: "Error: --keep-last must not be negative."}
			}
			c.KeepLast = keepLast
		}
		if cmd.Flags().Changed("batch-size") {
			if batchSize < 1 {
				return exitError{code: 2, msg: "Error: --batch-size must be at least 1."}
			}
			c.BatchSize = batchSize
		}
		b, err := openBackend(cmd.Context(), dsn)
		if err != nil {
			return exitError{code: 1, msg: fmt.Sprintf("Error: cannot open the database %s: %v", redactDSN(dsn), err)}
		}
		defer b.Close()
		if err := requireMigrated(cmd.Context(), b); err != nil {
			return err
		}
		n, err := sweepOnce(cmd.Context(), b, c, time.Now())
		if asJSON {
			out := map[string]any{"deleted": n}
			if err != nil {
				out["error"] = err.Error()
			}
			if e := json.NewEncoder(cmd.OutOrStdout()).Encode(out); e != nil {
				return e
			}
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "Cleaned up %s: %d flows, %d sessions, %d courier messages, %d web-hook deliveries, %d audit logs, %d rate-limit counters, %d trusted devices, %d session changes.\n",
				redactDSN(dsn), n.Flows, n.Sessions, n.Messages, n.Deliveries, n.AuditLogs, n.Counters, n.Devices, n.Changes)
		}
		if err != nil {
			return exitError{code: 1, msg: "Error: " + err.Error()}
		}
		return nil
	}
	long := `Delete what nobody needs any more, in batches that never lock the database
for long: flows and sessions that expired more than --keep-last ago (default
cleanup.keep_last, 24h), sent or abandoned courier messages and web-hook
deliveries older than cleanup.retention.messages, audit logs older than
cleanup.retention.audit_logs, expired rate-limit counters, and Hanko
trusted devices past their expiry (hanko.mfa.device_trust_duration; no
grace period).

serve runs the same sweep every cleanup.interval unless cleanup.enabled is
false. Kratos' form is accepted too: latchkey cleanup sql [DSN] --keep-last 6h`
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete expired flows and sessions, finished courier messages and old audit logs",
		Long:  long,
		Args:  cobra.NoArgs,
		RunE:  run,
	}
	sqlCmd := &cobra.Command{
		Use:   "sql [DSN]",
		Short: "The same as cleanup (Kratos' form: cleanup sql [DSN] --keep-last DURATION)",
		Long:  long,
		Args:  cobra.MaximumNArgs(1),
		RunE:  run,
	}
	for _, c := range []*cobra.Command{cmd, sqlCmd} {
		c.Flags().StringVar(&dsn, "dsn", "", "database DSN (default: the config's dsn / LATCHKEY_DSN)")
		c.Flags().StringVarP(&file, "config", "c", "", "config file to read dsn and the cleanup section from")
		c.Flags().DurationVar(&keepLast, "keep-last", 0, "keep expired flows and sessions this long after expiry (default cleanup.keep_last)")
		c.Flags().IntVar(&batchSize, "batch-size", 0, "rows deleted per statement (default cleanup.batch_size)")
		c.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	}
	sqlCmd.Flags().BoolVarP(&fromEnv, "read-from-env", "e", false, "read the DSN from the environment (LATCHKEY_DSN), as Kratos does")
	cmd.AddCommand(sqlCmd)
	return cmd
}
