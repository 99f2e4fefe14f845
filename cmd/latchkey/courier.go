package main

import (
	"sync"

	"github.com/spf13/cobra"
)

func newCourierCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "courier", Short: "Run or inspect the e-mail/SMS courier"}
	var (
		file string
		dev  bool
	)
	watch := &cobra.Command{
		Use:   "watch",
		Short: "Deliver queued messages until stopped (SIGTERM/SIGINT)",
		Long: `Run the courier worker alone, without the HTTP listeners: it claims queued
e-mail and SMS messages from the database, sends them, and retries failures
with exponential backoff. Any number of workers (and serve processes) may run
against one PostgreSQL or MySQL database: each message is sent once. Use
serve --no-courier on the API replicas when you run dedicated workers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, warnings, err := loadConfig(file, dev)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log)
			logWarnings(log, warnings)
			if cfg.NeedsDevSecrets() {
				if _, _, err := loadDevSecrets(cfg); err != nil {
					return exitError{code: 1, msg: "Error: " + err.Error()}
				}
			}
			a, err := build(cmd.Context(), cfg, log, false)
			if err != nil {
				return err
			}
			defer a.close()
			w, err := a.newCourierWorker()
			if err != nil {
				return err
			}
			log.Info("courier worker running")
			var wg sync.WaitGroup
			var runErr error
			wg.Go(func() { runErr = w.Run(cmd.Context()) })
			wg.Wait()
			if runErr != nil && cmd.Context().Err() == nil {
				return exitError{code: 1, msg: "Error: courier: " + runErr.Error()}
			}
			log.Info("courier worker stopped")
			return nil
		},
	}
	watch.Flags().StringVarP(&file, "config", "c", "", "config file (YAML)")
	watch.Flags().BoolVar(&dev, "dev", false, "use the --dev configuration (messages are logged when no SMTP is configured)")
	cmd.AddCommand(watch)
	return cmd
}
