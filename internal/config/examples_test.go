package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/discovery/static"
	"github.com/duohuo/duohuo/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const examplesDir = "../../examples"

// TestExamples loads every file in examples/: configurations must be valid,
// files in examples/instances/ must be valid instances files (read by the
// file source's parser, discovery/static), and bad*.yaml must fail with
// exactly the errors in testdata/NAME.golden.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v, %v; want at least 4 files", files, err)
	}
	instances, err := filepath.Glob(filepath.Join(examplesDir, "instances", "*.yaml"))
	if err != nil || len(instances) == 0 {
		t.Fatalf("examples/instances: %v, %v; want at least 1 file", instances, err)
	}
	for _, path := range append(files, instances...) {
		name, _ := filepath.Rel(examplesDir, path)
		t.Run(name, func(t *testing.T) {
			switch {
			case filepath.Base(filepath.Dir(path)) == "instances":
				if err := loadInstances(path, "example"); err != nil {
					t.Error(err)
				}
			case strings.HasPrefix(filepath.Base(path), "bad"):
				checkGolden(t, path)
			default:
				cfg, err := config.Load(path)
				if err != nil {
					t.Fatalf("Load(%s):\n%v", name, err)
				}
				// A file source must point at an instances file that exists.
				for _, s := range cfg.Services {
					for _, src := range s.Discovery {
						if src.File == nil {
							continue
						}
						if err := loadInstances(src.File.Path, s.Name); err != nil {
							t.Errorf("service %s: file source: %v", s.Name, err)
						}
					}
				}
			}
		})
	}
}

// loadInstances reads an instances file as the gateway's file source does.
func loadInstances(path, service string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = static.Parse(path, data, service)
	return err
}

func checkGolden(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.ToSlash(filepath.Join("examples", filepath.Base(path)))
	_, err = config.Parse(name, data)
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse(%s) = %v; want config.Errors", name, err)
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(path), ".yaml")+".golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Parse(%s) errors differ from %s (go test -update rewrites it):\ngot:\n%swant:\n%s", name, golden, got, want)
	}
	if n := strings.Count(got, "\n"); n < 6 {
		t.Errorf("%s has %d errors; it should show at least 6 kinds of mistake", name, n)
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "duohuo.yaml")
	const yaml = `
listeners:
  - name: tls
    listen: 127.0.0.1:8443
    tls: {cert_file: certs/gw.pem, key_file: /etc/duohuo/gw.key}
services:
  - name: api
    discovery: [{file: {path: api.yaml}}]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Listeners[0].TLS.CertFile, cfg.Listeners[0].TLS.KeyFile, cfg.Services[0].Discovery[0].File.Path}
	want := []string{filepath.Join(dir, "certs/gw.pem"), "/etc/duohuo/gw.key", filepath.Join(dir, "api.yaml")}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("path %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want an error wrapping os.ErrNotExist", err)
	}
	var es config.Errors
	if errors.As(err, &es) {
		t.Errorf("Load(missing) returned config.Errors %v; want an I/O error", es)
	}
}
