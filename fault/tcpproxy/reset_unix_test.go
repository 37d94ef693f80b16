//go:build unix

package tcpproxy_test

import (
	"errors"
	"syscall"
)

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
