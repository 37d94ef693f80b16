package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

func init() { subcommands = append(subcommands, newAuditCmd) }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with duohuo's SM3 hash-chained audit logs",
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditShowCmd())
	return cmd
}

// loadAtRestKeys reads the SM4 key ring of --keys: gm's key file format,
// refused when group or others may read it.
func loadAtRestKeys(path string) (*gm.KeyRing, error) {
	if path == "" {
		return nil, nil
	}
	ring, err := gm.LoadKeyRing(path)
	if err != nil {
		return nil, usagef("--keys: %w", err)
	}
	return ring, nil
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		anchorFile string
		keyFile    string
		keysFile   string
		start      string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an audit log's hash chain and name the first broken record",
		Long: `Check every record of an audit log (JSON lines, each carrying the SM3 hash of
the previous one and its own) and report the first break with its record
number and line: an edited record, a removed, inserted or reordered one, a
line cut or joined in the middle, or a torn last line.

Records cut from the end leave a valid but shorter chain; give the head that
the writer kept elsewhere (audit.Options.HeadFile) with --anchor to detect
that too. A log written with an HMAC key (audit.Options.Key) needs the key:
--key-file (the file's bytes, a trailing newline removed). A file that
continues another after rotation needs --start SEQ:HASH, the previous
file's head.

Exit status: 0 the chain is intact, 1 it is broken or unreadable, 2 usage.`,
		Example: `  duohuo audit verify /var/log/duohuo/etcd-audit.jsonl
  duohuo audit verify --anchor /backup/etcd-audit.head /var/log/duohuo/etcd-audit.jsonl
  duohuo audit verify --key-file /etc/duohuo/audit.key --json audit.jsonl
  duohuo audit verify --keys /etc/duohuo/at-rest.keys audit.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts audit.VerifyOptions
			if anchorFile != "" {
				h, err := audit.ReadHeadFile(anchorFile)
				if err != nil {
					return usagef("--anchor: %w", err)
				}
				opts.Anchor = h
			}
			if keyFile != "" {
				k, err := os.ReadFile(keyFile)
				if err != nil {
					return usagef("--key-file: %w", err)
				}
				k = bytes.TrimRight(k, "\r\n")
				if len(k) == 0 {
					return usagef("--key-file %s: empty key", keyFile)
				}
				opts.Key = k
			}
			ring, err := loadAtRestKeys(keysFile)
			if err != nil {
				return err
			}
			opts.AtRest = ring
			if start != "" {
				h, err := parseHead(start)
				if err != nil {
					return usagef("--start %q: %w", start, err)
				}
				opts.Start = h
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := audit.Verify(f, opts)
			if asJSON {
				out := struct {
					File    string      `json:"file"`
					OK      bool        `json:"ok"`
					Records uint64      `json:"records"`
					Sealed  uint64      `json:"sealed"`
					Opened  bool        `json:"opened"`
					Head    audit.Head  `json:"head"`
					Error   string      `json:"error,omitempty"`
					Break   *chainBreak `json:"break,omitempty"`
				}{File: args[0], OK: err == nil, Records: rep.Records, Sealed: rep.Sealed, Opened: ring != nil, Head: rep.Head}
				if ce := asChainError(err); ce != nil {
					out.Break = &chainBreak{Record: ce.Record, Line: ce.Line}
				}
				if err != nil {
					out.Error = err.Error()
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.Encode(out)
			}
			if err != nil {
				return fmt.Errorf("%s: %w (%d records intact before it)", args[0], err, rep.Records)
			}
			if !asJSON {
				sealed := ""
				switch {
				case rep.Sealed > 0 && ring != nil:
					sealed = fmt.Sprintf(" (%d sealed, all opened)", rep.Sealed)
				case rep.Sealed > 0:
					sealed = fmt.Sprintf(" (%d sealed, not opened: give --keys to open them)", rep.Sealed)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s: %d records%s, head %d %s\n", args[0], rep.Records, sealed, rep.Head.Seq, rep.Head.Hash)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&anchorFile, "anchor", "", "head file (JSON {seq, hash}) the chain must reach")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "file holding the log's HMAC-SM3 key")
	cmd.Flags().StringVar(&keysFile, "keys", "", "SM4 key ring file (ID:KEY lines) to open records sealed at rest")
	cmd.Flags().StringVar(&start, "start", "", "SEQ:HASH head of the previous file, for a log that continues one")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newAuditShowCmd() *cobra.Command {
	var keysFile string
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print an audit log's records, one JSON object a line, opening sealed ones with --keys",
		Long: `Print the records of an audit log as JSON lines, without the hash fields.
Records sealed at rest (audit.Options.AtRest) are printed as they are
unless --keys gives the key ring file, which opens them. show checks
neither the hashes nor the chain: duohuo audit verify does.

Exit status: 0 every record was printed, 1 a line is not a record or a
sealed record does not open, 2 usage.`,
		Example: `  duohuo audit show --keys /etc/duohuo/at-rest.keys /var/log/duohuo/etcd-audit.jsonl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ring, err := loadAtRestKeys(keysFile)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rd := audit.NewReader(f, nil)
			enc := json.NewEncoder(cmd.OutOrStdout())
			for {
				r, _, err := rd.Next()
				switch {
				case errors.Is(err, io.EOF):
					return nil
				case err != nil && !errors.Is(err, audit.ErrTampered): // hashes are verify's
					return fmt.Errorf("%s: line %d: %w", args[0], rd.Line(), err)
				}
				if err := audit.Unseal(&r, ring); ring != nil && err != nil {
					return fmt.Errorf("%s: line %d: %w", args[0], rd.Line(), err)
				}
				if err := enc.Encode(r); err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().StringVar(&keysFile, "keys", "", "SM4 key ring file (ID:KEY lines) to open records sealed at rest")
	return cmd
}

type chainBreak struct {
	Record uint64 `json:"record"`
	Line   int    `json:"line"`
}

func asChainError(err error) *audit.ChainError {
	ce, _ := errors.AsType[*audit.ChainError](err)
	return ce
}

// parseHead reads "SEQ:HASH".
func parseHead(s string) (audit.Head, error) {
	seqS, hash, ok := strings.Cut(s, ":")
	if !ok {
		return audit.Head{}, fmt.Errorf("want SEQ:HASH")
	}
	seq, err := strconv.ParseUint(seqS, 10, 64)
	if err != nil {
		return audit.Head{}, fmt.Errorf("sequence %q: %w", seqS, err)
	}
	if len(hash) != len(audit.ZeroHash) {
		return audit.Head{}, fmt.Errorf("hash is %d characters, want %d hex digits", len(hash), len(audit.ZeroHash))
	}
	return audit.Head{Seq: seq, Hash: strings.ToLower(hash)}, nil
}
