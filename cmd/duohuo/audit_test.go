package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

// writeAuditLog writes n records with a head file and returns both paths.
func writeAuditLog(t *testing.T, n int, key []byte) (logPath, headPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath, headPath = filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "audit.head")
	l, err := audit.Open(logPath, audit.Options{HeadFile: headPath, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		l.Append(audit.Record{Time: time.Unix(int64(i), 0).UTC(), Method: "/etcdserverpb.KV/Put", Key: "/k", Outcome: "OK"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return logPath, headPath
}

func TestAuditVerify(t *testing.T) {
	good, head := writeAuditLog(t, 5, nil)
	data, _ := os.ReadFile(good)
	ls := strings.SplitAfter(string(data), "\n")
	dir := t.TempDir()
	variant := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	edited := variant("edited", strings.Replace(string(data), `"seq":3,"time":"1970-01-01T00:00:02Z"`, `"seq":3,"time":"1970-01-01T00:00:09Z"`, 1))
	removed := variant("removed", ls[0]+ls[1]+ls[3]+ls[4])
	truncated := variant("truncated", ls[0]+ls[1]+ls[2])
	keyed, _ := writeAuditLog(t, 2, []byte("k3y"))
	keyFile := variant("key", "k3y\n")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout (or stderr on failure)
	}{
		{"intact log", []string{"audit", "verify", good}, exitOK, "ok: " + good + ": 5 records, head 5 "},
		{"intact log reaching its anchor", []string{"audit", "verify", "--anchor", head, good}, exitOK, "5 records"},
		{"edited record is named", []string{"audit", "verify", edited}, exitRuntime, "record 3 (line 3): tampered"},
		{"removed record is named", []string{"audit", "verify", removed}, exitRuntime, "record 3 (line 3): missing or reordered"},
		{"cut tail is caught by the anchor", []string{"audit", "verify", "--anchor", head, truncated}, exitRuntime, "chain ends at record 3, anchored head is record 5"},
		{"cut tail without an anchor is a shorter chain", []string{"audit", "verify", truncated}, exitOK, "3 records"},
		{"keyed log with its key", []string{"audit", "verify", "--key-file", keyFile, keyed}, exitOK, "2 records"},
		{"keyed log without its key", []string{"audit", "verify", keyed}, exitRuntime, "record 1 (line 1): tampered"},
		{"missing file", []string{"audit", "verify", filepath.Join(dir, "nope")}, exitRuntime, "no such file"},
		{"no file argument", []string{"audit", "verify"}, exitUsage, ""},
		{"unreadable anchor", []string{"audit", "verify", "--anchor", edited, good}, exitUsage, "--anchor"},
		{"bad start", []string{"audit", "verify", "--start", "x", good}, exitUsage, "--start"},
		{"empty key file", []string{"audit", "verify", "--key-file", variant("empty", "\n"), good}, exitUsage, "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String()+errb.String(), tt.wantOut) {
				t.Errorf("duohuo %s: exit %d, stdout %q, stderr %q; want exit %d mentioning %q",
					strings.Join(tt.args, " "), code, out.String(), errb.String(), tt.wantCode, tt.wantOut)
			}
		})
	}
}

func TestAuditVerifyJSON(t *testing.T) {
	good, _ := writeAuditLog(t, 3, nil)
	data, _ := os.ReadFile(good)
	ls := strings.SplitAfter(string(data), "\n")
	bad := filepath.Join(t.TempDir(), "reordered")
	os.WriteFile(bad, []byte(ls[0]+ls[2]+ls[1]), 0o600)

	var out, errb bytes.Buffer
	if code := run([]string{"audit", "verify", "--json", bad}, &out, &errb); code != exitRuntime {
		t.Fatalf("exit %d, want %d", code, exitRuntime)
	}
	var got struct {
		OK      bool
		Records uint64
		Break   struct{ Record uint64 }
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if got.OK || got.Records != 1 || got.Break.Record != 2 {
		t.Errorf("JSON = %+v, want not ok, 1 record intact, break at record 2", got)
	}
}

func TestAuditSealed(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "at-rest.keys")
	os.WriteFile(keysFile, []byte("1:000102030405060708090a0b0c0d0e0f\n"), 0o600)
	otherKeys := filepath.Join(dir, "other.keys")
	os.WriteFile(otherKeys, []byte("2:f0e0d0c0b0a090807060504030201000\n"), 0o600)
	openKeys := filepath.Join(dir, "open.keys")
	os.WriteFile(openKeys, []byte("1:000102030405060708090a0b0c0d0e0f\n"), 0o644)
	ring, err := gm.LoadKeyRing(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(logPath, audit.Options{AtRest: ring})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Append(audit.Record{Time: time.Unix(int64(i), 0).UTC(), Method: "/etcdserverpb.KV/Put", Key: "/config/secret-name", Outcome: "OK"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"verify without keys checks the chain", []string{"audit", "verify", logPath}, exitOK, "3 records (3 sealed, not opened"},
		{"verify with keys opens every record", []string{"audit", "verify", "--keys", keysFile, logPath}, exitOK, "3 records (3 sealed, all opened)"},
		{"verify with a ring that lacks the key", []string{"audit", "verify", "--keys", otherKeys, logPath}, exitRuntime, "record 1 (line 1): key missing"},
		{"a key file others may read is refused", []string{"audit", "verify", "--keys", openKeys, logPath}, exitUsage, "chmod 600"},
		{"show with keys prints the contents", []string{"audit", "show", "--keys", keysFile, logPath}, exitOK, `"key":"/config/secret-name"`},
		{"show without keys prints them sealed", []string{"audit", "show", logPath}, exitOK, `"sealed":"`},
		{"show with a ring that lacks the key", []string{"audit", "show", "--keys", otherKeys, logPath}, exitRuntime, "line 1: audit: sealed with a key not given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Errorf("duohuo %s: exit %d, stdout %q, stderr %q; want exit %d mentioning %q",
					strings.Join(tt.args, " "), code, out.String(), errb.String(), tt.wantCode, tt.want)
			}
		})
	}
}
