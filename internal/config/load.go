package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
)

// maxFileSize bounds what Load reads: a configuration is hand-written text,
// and a mistaken path to a large file should fail fast.
const maxFileSize = 16 << 20

// Load reads, decodes and validates the configuration file at path, with
// ${VAR} taken from the process environment, and returns it with every
// default filled. Relative file paths inside it (TLS certificates, file
// discovery sources) are made absolute, relative to the file's directory.
//
// A file that cannot be read gives an error wrapping the os error. An invalid
// file gives an [Errors] listing every problem; the Config is then nil.
// Load is safe for concurrent use.
func Load(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("read config %s: %d bytes is larger than the %d allowed", path, st.Size(), maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := decodeFileIn[Config](path, data, os.LookupEnv, dir, defaultSplitting)
	if err != nil {
		return nil, err
	}
	cfg.resolvePaths(dir)
	return cfg, nil
}

// Parse decodes and validates a configuration held in data, with ${VAR}
// taken from the process environment. name is used only in error messages.
// Relative paths are left as written. It returns an [Errors] when data is
// invalid. Parse is safe for concurrent use.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, os.LookupEnv)
}

func parse(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return decodeFile[Config](name, data, lookup, defaultSplitting)
}

// decodeFile decodes and checks a file whose top level is a T.
func decodeFile[T any](name string, data []byte, lookup func(string) (string, bool), sp splitting) (*T, error) {
	return decodeFileIn[T](name, data, lookup, "", sp)
}

// decodeFileIn is decodeFile with the checks reading the files the file
// names (TLS material) relative to dir.
func decodeFileIn[T any](name string, data []byte, lookup func(string) (string, bool), dir string, sp splitting) (*T, error) {
	d := newDecoder(name, lookup)
	d.dir = dir
	v := newDefault(reflect.TypeFor[T]())
	d.parseDocument(data, v, sp)
	if !hasSyntaxError(d.errs) {
		(&checker{d: d}).walk(make([]byte, 0, 64), v.Elem())
	}
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	if w, ok := v.Interface().(interface{ setWarnings(Errors) }); ok && len(d.warns) > 0 {
		w.setWarnings(d.warns.sorted())
	}
	return v.Interface().(*T), nil
}

func hasSyntaxError(es Errors) bool {
	for _, e := range es {
		if e.Path == "" {
			return true
		}
	}
	return false
}

// Default returns a Config with every default filled and nothing else: no
// listeners, services or routes.
func Default() *Config {
	return newDefault(reflect.TypeFor[Config]()).Interface().(*Config)
}

// resolvePaths makes relative file paths absolute against dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Listeners {
		if t := c.Listeners[i].TLS; t != nil {
			abs(&t.CertFile)
			abs(&t.KeyFile)
			abs(&t.SignCertFile)
			abs(&t.SignKeyFile)
			abs(&t.EncCertFile)
			abs(&t.EncKeyFile)
		}
	}
	if tr := c.Tracing; tr != nil && tr.TLS != nil {
		abs(&tr.TLS.CAFile)
		abs(&tr.TLS.CertFile)
		abs(&tr.TLS.KeyFile)
	}
	if r := c.Registration; r != nil {
		for _, t := range []*UpstreamTLS{etcdTLS(r.Etcd), nacosTLS(r.Nacos), consulTLS(r.Consul)} {
			if t != nil {
				abs(&t.CAFile)
				abs(&t.CertFile)
				abs(&t.KeyFile)
			}
		}
		if r.Etcd != nil {
			abs(&r.Etcd.PasswordFile)
		}
		if r.Nacos != nil {
			abs(&r.Nacos.PasswordFile)
		}
		if r.Consul != nil {
			abs(&r.Consul.TokenFile)
		}
	}
	for i := range c.Services {
		if t := c.Services[i].Upstream.TLS; t != nil {
			abs(&t.CAFile)
			abs(&t.CertFile)
			abs(&t.KeyFile)
			abs(&t.SignCertFile)
			abs(&t.SignKeyFile)
			abs(&t.EncCertFile)
			abs(&t.EncKeyFile)
		}
		for _, src := range c.Services[i].Discovery {
			if src.File != nil {
				abs(&src.File.Path)
			}
			if n := src.Nacos; n != nil {
				abs(&n.PasswordFile)
				if t := n.TLS; t != nil {
					abs(&t.CAFile)
					abs(&t.CertFile)
					abs(&t.KeyFile)
				}
			}
			if k := src.Kubernetes; k != nil {
				abs(&k.Kubeconfig)
			}
			if cs := src.Consul; cs != nil {
				abs(&cs.TokenFile)
				if t := cs.TLS; t != nil {
					abs(&t.CAFile)
					abs(&t.CertFile)
					abs(&t.KeyFile)
				}
			}
		}
	}
	if c.Replication != nil {
		abs(&c.Replication.Dir)
		if a := c.Replication.AtRest; a != nil {
			abs(&a.KeysFile)
		}
	}
}
