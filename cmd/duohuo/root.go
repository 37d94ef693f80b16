package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the duohuo binary (documented in README.md and docs/cli.md).
const (
	exitOK       = 0 // success
	exitRuntime  = 1 // the command ran and failed
	exitUsage    = 2 // bad flags, arguments or configuration
	exitLockLost = 3 // `lock acquire`: the lock was lost while held
)

// exitCoder is an error that chooses the process's exit code.
type exitCoder interface {
	error
	ExitCode() int
}

// usageError marks an error caused by the user's input (flags, arguments,
// configuration), which exits with exitUsage rather than exitRuntime.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// subcommands lists the constructors of duohuo's subcommands. Each subcommand
// lives in its own file and appends itself here from an init function, so
// that files can be added without editing this one.
var subcommands []func() *cobra.Command

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "duohuo",
		Short: "Multi-active gateway, replicated state and locks for multi-cloud services",
		Long: `duohuo (多活, "multi-active") keeps a service answering when an instance, a zone
or a whole cloud fails, and lets one service run active-active across clouds.

Exit codes: 0 success, 1 runtime error, 2 usage or configuration error,
3 a lock held by "duohuo lock acquire" was lost.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, mk := range subcommands {
		root.AddCommand(mk())
	}
	return root
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "duohuo: %v\n", err)
	if ec, ok := errors.AsType[exitCoder](err); ok {
		return ec.ExitCode()
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return exitUsage
	}
	return exitRuntime
}

// isCobraUsageError reports whether err is one of cobra's own argument errors
// (unknown command, wrong number of arguments), which carry no type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
