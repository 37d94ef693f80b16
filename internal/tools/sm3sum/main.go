// Command sm3sum prints the SM3 digest (GB/T 32905-2016) of each file named
// on the command line, in the format of sha256sum: "<hex>  <name>". The
// release build writes dist/SM3SUMS with it, because 信创 procurement often
// asks for national-standard checksums next to SHA-256 ones and coreutils
// has no SM3.
package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/emmansun/gmsm/sm3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sm3sum FILE...")
		os.Exit(2)
	}
	status := 0
	for _, name := range os.Args[1:] {
		sum, err := sumFile(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sm3sum: %v\n", err)
			status = 1
			continue
		}
		fmt.Printf("%s  %s\n", sum, name)
	}
	os.Exit(status)
}

func sumFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sm3.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
