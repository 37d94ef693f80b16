package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	suites := filepath.Join(dir, "suites.yaml")
	if err := os.WriteFile(suites, []byte("log:\n  level: info\ncrypto:\n  suites: gm\nservices:\n  - name: api\n    discovery: [{static: {instances: [{addr: \"127.0.0.1:1\"}]}}]\n    upstream:\n      tls: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // lines of stdout, as regular expressions
		wantStderr string   // substring
	}{
		{
			name:     "valid files print ok and exit 0",
			args:     []string{"validate", "../../examples/minimal.yaml", "../../examples/multi-cloud.yaml", "../../examples/dns.yaml"},
			wantCode: exitOK,
			wantOut: []string{
				`^\.\./\.\./examples/minimal\.yaml: ok$`,
				`^\.\./\.\./examples/multi-cloud\.yaml: ok$`,
				`^\.\./\.\./examples/dns\.yaml: ok$`,
			},
		},
		{
			name:       "invalid file prints one positioned line per error and exits 2",
			args:       []string{"validate", "../../examples/bad.yaml"},
			wantCode:   exitUsage,
			wantOut:    repeat(`^\.\./\.\./examples/bad\.yaml:\d+:\d+: [a-z_\[\]0-9.]+: .+$`, 12),
			wantStderr: "duohuo: 1 of 1 configuration files invalid",
		},
		{
			name:     "a valid and an invalid file: both reported, exit 2",
			args:     []string{"validate", "../../examples/minimal.yaml", "../../examples/bad.yaml"},
			wantCode: exitUsage,
			wantOut: append([]string{`^\.\./\.\./examples/minimal\.yaml: ok$`},
				repeat(`^\.\./\.\./examples/bad\.yaml:\d+:\d+: `, 12)...),
			wantStderr: "1 of 2 configuration files invalid",
		},
		{
			name:     "crypto.suites gm with a TLS upstream is refused with its place: under gm upstreams speak TLCP",
			args:     []string{"validate", suites},
			wantCode: exitUsage,
			wantOut: []string{
				regexp.QuoteMeta(suites) + `:9:12: services\[0\]\.upstream\.tls: crypto\.suites is gm, so connections to instances speak only TLCP: set tlcp: true .*$`,
			},
			wantStderr: "1 of 1 configuration files invalid",
		},
		{
			name:       "missing file is a usage error",
			args:       []string{"validate", missing},
			wantCode:   exitUsage,
			wantOut:    []string{regexp.QuoteMeta(missing) + `: read config: .*no such file or directory$`},
			wantStderr: "1 of 1 configuration files invalid",
		},
		{
			name:       "no file is a usage error",
			args:       []string{"validate"},
			wantCode:   exitUsage,
			wantStderr: "validate needs at least one FILE",
		},
		{
			name:       "schema with files is a usage error",
			args:       []string{"validate", "--schema", "x.yaml"},
			wantCode:   exitUsage,
			wantStderr: "takes no files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.wantCode, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(tt.wantOut) {
				t.Fatalf("run(%q) printed %d lines, want %d:\n%s", tt.args, len(lines), len(tt.wantOut), out.String())
			}
			for i, re := range tt.wantOut {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d = %q, want match for %s", i+1, lines[i], re)
				}
			}
			if !strings.Contains(errb.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", errb.String(), tt.wantStderr)
			}
		})
	}
}

func TestValidateBadExampleMatchesGolden(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "../../examples/bad.yaml"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit code %d, want %d", code, exitUsage)
	}
	golden, err := os.ReadFile("../../internal/config/testdata/bad.golden")
	if err != nil {
		t.Fatal(err)
	}
	// The golden file names the file examples/bad.yaml; here it is ../../examples/bad.yaml.
	want := strings.ReplaceAll(string(golden), "examples/bad.yaml:", "../../examples/bad.yaml:")
	if out.String() != want {
		t.Errorf("validate output differs from the golden file:\ngot:\n%swant:\n%s", out.String(), want)
	}
}

func TestValidateSchema(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "--schema"}, &out, &errb); code != exitOK {
		t.Fatalf("exit code %d, want 0; stderr %s", code, errb.String())
	}
	if !bytes.Equal(out.Bytes(), config.JSONSchema()) {
		t.Errorf("validate --schema printed something else than config.JSONSchema()")
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
