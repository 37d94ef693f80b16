package audit_test

import (
	"encoding/hex"

	"github.com/duohuo/duohuo/gm"
)

func sm3hex(b []byte) string { s := gm.SM3(b); return hex.EncodeToString(s[:]) }
