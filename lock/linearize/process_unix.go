//go:build unix

package linearize

import (
	"os"
	"syscall"
)

// canStopProcesses reports whether this system can stop a client process
// (SIGSTOP) and continue it (SIGCONT).
const canStopProcesses = true

func stopProcess(p *os.Process) error     { return p.Signal(syscall.SIGSTOP) }
func continueProcess(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
