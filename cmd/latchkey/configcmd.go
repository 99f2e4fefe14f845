package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/schema"
)

// loadConfig loads and validates the configuration and the identity schemas
// it names. Every problem is returned at once, formatted for people.
func loadConfig(file string, dev bool) (*config.Config, []config.Warning, error) {
	cfg, warnings, err := config.Load(config.LoadOptions{File: file, Dev: dev})
	if err != nil {
		return nil, warnings, problemsError(file, err)
	}
	if _, err := newSchemaRegistry(cfg); err != nil {
		return nil, warnings, exitError{code: 2, msg: fmt.Sprintf("The configuration%s has a problem:\n  - identity.schemas: %v", fileSuffix(file), err)}
	}
	return cfg, warnings, nil
}

func newSchemaRegistry(cfg *config.Config) (*schema.Registry, error) {
	srcs := make([]schema.Source, 0, len(cfg.Identity.Schemas))
	for _, s := range cfg.Identity.Schemas {
		srcs = append(srcs, schema.Source{ID: s.ID, URL: s.URL})
	}
	return schema.New(srcs)
}

func problemsError(file string, err error) error {
	var ps config.Problems
	if errors.As(err, &ps) {
		var b strings.Builder
		fmt.Fprintf(&b, "The configuration%s has %d problem(s):\n", fileSuffix(file), len(ps))
		for _, p := range ps {
			fmt.Fprintf(&b, "  - %s\n", p.String())
		}
		b.WriteString("Fix them and try again; `latchkey config reference` lists every key.")
		return exitError{code: 2, msg: b.String(), err: err}
	}
	return exitError{code: 2, msg: fmt.Sprintf("Cannot load the configuration%s: %v", fileSuffix(file), err), err: err}
}

func fileSuffix(file string) string {
	if file == "" {
		return ""
	}
	return " in " + file
}

func logWarnings(log *slog.Logger, ws []config.Warning) {
	for _, w := range ws {
		log.Warn("config: " + w.String())
	}
}

// toolConfig loads the configuration for a command that needs the
// database and plain settings but not the server's secrets (migrate,
// cleanup): without a file it loads with --dev rules, so missing secrets
// are no error, but the --dev default DSN (./latchkey.db) is not taken as
// a choice: the DSN then comes from LATCHKEY_DSN (or Kratos' DSN) or nowhere.
func toolConfig(file string) (*config.Config, error) {
	cfg, _, err := config.Load(config.LoadOptions{File: file, Dev: file == ""})
	if err != nil {
		return nil, problemsError(file, err)
	}
	if file == "" && os.Getenv("LATCHKEY_DSN") == "" && os.Getenv("DSN") == "" {
		cfg.DSN = ""
	}
	return cfg, nil
}

// resolveDSN returns dsn, or the dsn of the config file / environment. No
// DSN anywhere is an error: a tool never picks a database by itself.
func resolveDSN(dsn, file string) (string, error) {
	if dsn != "" {
		return dsn, nil
	}
	cfg, err := toolConfig(file)
	if err != nil {
		return "", err
	}
	if cfg.DSN == "" {
		return "", exitError{code: 2, msg: "No database given: pass --dsn, set dsn in the config file (-c), or set LATCHKEY_DSN (or Kratos' DSN)."}
	}
	return cfg.DSN, nil
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check and document the configuration"}
	var (
		file   string
		dev    bool
		asJSON bool
	)
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration and print every problem at once",
		Long: `Load the configuration exactly as serve would (defaults, then the file, then
LATCHKEY_* environment variables), validate it and load its identity schemas.
Prints every problem at once and exits 2 when there is any; warnings (keys that
Kratos has but Latchkey ignores) are printed too but do not fail the check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, warnings, err := loadConfig(file, dev)
			if asJSON {
				return printCheckJSON(cmd.OutOrStdout(), warnings, err)
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "The configuration%s is valid.\n", fileSuffix(file))
			return nil
		},
	}
	check.Flags().StringVarP(&file, "config", "c", "", "config file (YAML)")
	check.Flags().BoolVar(&dev, "dev", false, "check with --dev defaults and rules")
	check.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	ref := &cobra.Command{
		Use:   "reference",
		Short: "Print every configuration key with its type, default and environment variable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), config.Reference())
			return err
		},
	}
	cmd.AddCommand(check, ref)
	return cmd
}

func printCheckJSON(w io.Writer, warnings []config.Warning, err error) error {
	type item struct {
		Key     string `json:"key"`
		Problem string `json:"problem"`
		Fix     string `json:"fix,omitempty"`
		Message string `json:"message"`
	}
	out := struct {
		Valid    bool   `json:"valid"`
		Problems []item `json:"problems"`
		Warnings []item `json:"warnings"`
	}{Valid: err == nil, Problems: []item{}, Warnings: []item{}}
	for _, w := range warnings {
		out.Warnings = append(out.Warnings, item{Key: w.Key, Problem: w.Message, Message: w.Message})
	}
	if err != nil {
		var ps config.Problems
		var ee exitError
		switch {
		case errors.As(err, &ps):
			for _, p := range ps {
				what, fix := p.Split()
				out.Problems = append(out.Problems, item{Key: p.Key, Problem: what, Fix: fix, Message: p.Message})
			}
		case errors.As(err, &ee):
			out.Problems = append(out.Problems, item{Problem: ee.msg, Message: ee.msg})
		default:
			out.Problems = append(out.Problems, item{Problem: err.Error(), Message: err.Error()})
		}
	}
	if e := json.NewEncoder(w).Encode(out); e != nil {
		return e
	}
	if err != nil {
		return exitError{code: 2}
	}
	return nil
}

// newLogger builds the process logger from the log section.
func newLogger(c config.Log) *slog.Logger { return newLoggerTo(c, nil) }

// newLoggerTo is newLogger writing to w (nil means standard error).
func newLoggerTo(c config.Log, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
