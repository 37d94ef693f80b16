package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicationAtRest: the key ring is given one way, a key file must be
// private (as ssh wants a private key), and a variable must be set; the
// keys' format is checked where they are loaded.
func TestReplicationAtRest(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "keys")
	os.WriteFile(private, []byte("1:000102030405060708090a0b0c0d0e0f\n"), 0o600)
	open := filepath.Join(dir, "open.keys")
	os.WriteFile(open, []byte("1:000102030405060708090a0b0c0d0e0f\n"), 0o644)
	env := env(map[string]string{"DUOHUO_AT_REST_KEYS": "1:000102030405060708090a0b0c0d0e0f", "MY_KEYS": "1:00"})
	tests := []struct {
		name, atRest string
		lookup       func(string) (string, bool)
		wantPath     string // "" means valid
		wantMsg      string
	}{
		{"a private key file", "{keys_file: " + private + "}", env, "", ""},
		{"a named variable", "{keys_env: MY_KEYS}", env, "", ""},
		{"the default variable", "{}", env, "", ""},
		{"a key file others may read", "{keys_file: " + open + "}", env, "replication.at_rest.keys_file", "chmod 600"},
		{"a missing key file", "{keys_file: " + filepath.Join(dir, "none") + "}", env, "replication.at_rest.keys_file", "no such file"},
		{"a directory", "{keys_file: " + dir + "}", env, "replication.at_rest.keys_file", "not a regular file"},
		{"both ways", "{keys_file: " + private + ", keys_env: MY_KEYS}", env, "replication.at_rest.keys_file", "excludes keys_env"},
		{"a variable not set", "{keys_env: NOT_SET}", env, "replication.at_rest.keys_env", "NOT_SET is not set"},
		{"the default variable not set", "{}", testEnv, "replication.at_rest.keys_env", "DUOHUO_AT_REST_KEYS is not set"},
		{"a bad variable name", "{keys_env: 'a-b'}", env, "replication.at_rest.keys_env", "invalid variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "replication:\n  dir: data\n  at_rest: " + tt.atRest + "\n"
			cfg, err := parse("t.yaml", []byte(text), tt.lookup)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("parse:\n%s\n%v", text, err)
				}
				if cfg.Replication.AtRest == nil {
					t.Fatal("at_rest not decoded")
				}
				return
			}
			es := errorsOf(t, err)
			if len(es) != 1 || es[0].Path != tt.wantPath || !strings.Contains(es[0].Msg, tt.wantMsg) {
				t.Errorf("parse:\n%s\nerrors %v, want one at %s containing %q", text, err, tt.wantPath, tt.wantMsg)
			}
		})
	}
	for _, tc := range []struct {
		a          AtRest
		file, vars string
	}{
		{AtRest{KeysFile: "/k"}, "/k", ""},
		{AtRest{KeysEnv: "MY_KEYS"}, "", "MY_KEYS"},
		{AtRest{}, "", DefaultAtRestKeysEnv},
	} {
		if f, e := tc.a.Source(); f != tc.file || e != tc.vars {
			t.Errorf("%+v.Source() = %q, %q; want %q, %q", tc.a, f, e, tc.file, tc.vars)
		}
	}
}
