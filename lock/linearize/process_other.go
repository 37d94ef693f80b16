//go:build !unix

package linearize

import (
	"errors"
	"os"
)

// canStopProcesses reports whether this system can stop a client process:
// not without SIGSTOP.
const canStopProcesses = false

var errNoStop = errors.New("linearize: stopping a process needs SIGSTOP")

func stopProcess(*os.Process) error     { return errNoStop }
func continueProcess(*os.Process) error { return errNoStop }
