package main

import (
	"errors"
	"fmt"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var schema bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check configuration files and report every error with file:line:col",
		Long: `Validate loads each configuration file the way "duohuo serve" does: YAML
decoded, ${VAR} and ${VAR:-default} expanded from the environment, defaults
filled, and every check run. It prints "FILE: ok" for a valid file, or one line
per problem:

  FILE:LINE:COL: path.to.key: message

All problems of a file are reported at once, in file order. A valid file may
also get warnings, after its "ok": settings that are accepted but do not do
all they say yet (crypto.suites gm with an upstream.tls, as connections to
instances speak TLS 1.2/1.3):

  FILE:LINE:COL: path.to.key: warning: message

Warnings do not change the exit code, which is 0 when every file is valid and
2 otherwise. See docs/configuration.md for the
format, and docs/duohuo.schema.json (or --schema) for editor completion.`,
		Example: `  duohuo validate /etc/duohuo/duohuo.yaml
  duohuo validate examples/*.yaml
  duohuo validate --schema > duohuo.schema.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if schema {
				if len(args) > 0 {
					return usagef("validate --schema takes no files")
				}
				_, err := out.Write(config.JSONSchema())
				return err
			}
			if len(args) == 0 {
				return usagef("validate needs at least one FILE")
			}
			bad := 0
			for _, path := range args {
				cfg, err := config.Load(path)
				var errs config.Errors
				switch {
				case err == nil:
					fmt.Fprintf(out, "%s: ok\n", path)
					for _, w := range cfg.Warnings {
						fmt.Fprintln(out, w)
					}
				case errors.As(err, &errs):
					bad++
					for _, e := range errs {
						fmt.Fprintln(out, e)
					}
				default:
					bad++
					fmt.Fprintf(out, "%s: %v\n", path, err)
				}
			}
			if bad > 0 {
				return usagef("%d of %d configuration files invalid", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&schema, "schema", false, "print the JSON Schema of the configuration file and exit")
	return cmd
}
