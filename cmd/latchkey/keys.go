package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	var (
		file   string
		dev    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the JWT signing keys",
		Long: `Manage the keys that sign session JWTs (Hanko face) and tokenized sessions
(Kratos face). Keys are stored in the database, their private part encrypted
with secrets.cipher. The newest key signs; every stored key verifies until it
is removed, so rotate first and remove the old key only after the tokens it
signed have expired. Running replicas pick up a rotation within a minute.`,
	}
	cmd.PersistentFlags().StringVarP(&file, "config", "c", "", "config file (YAML)")
	cmd.PersistentFlags().BoolVar(&dev, "dev", false, "use the --dev configuration and its secrets")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print the result as JSON")

	withApp := func(run func(cmd *cobra.Command, a *app, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
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
			return run(cmd, a, args)
		}
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys, newest (the signer) first",
		Args:  cobra.NoArgs,
		RunE: withApp(func(cmd *cobra.Command, a *app, _ []string) error {
			keys, err := a.keys.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(keys)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALGORITHM\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Generate a new signing key that signs from now on",
		Args:  cobra.NoArgs,
		RunE: withApp(func(cmd *cobra.Command, a *app, _ []string) error {
			k, err := a.keys.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(k)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "New signing key %s (%s). Older keys keep verifying until removed with `latchkey keys remove KID`.\n", k.ID, k.Algorithm)
			return nil
		}),
	}
	remove := &cobra.Command{
		Use:   "remove [--] KID",
		Short: "Remove a signing key; tokens it signed stop verifying",
		Long: "Remove a signing key; tokens it signed stop verifying.\n\n" +
			"Key ids are RFC 7638 thumbprints in base64url and may start with '-': put -- before such an id\n" +
			"so it is not read as a flag.",
		Example: "  latchkey keys remove --dev -- -Xb3kR0…",
		Args:    cobra.ExactArgs(1),
		RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
			if err := a.keys.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{"removed": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed signing key %s.\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(list, rotate, remove)
	return cmd
}
