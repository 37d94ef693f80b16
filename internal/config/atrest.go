package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultAtRestKeysEnv is the environment variable that holds the at-rest
// key ring when replication.at_rest names neither keys_file nor keys_env.
const DefaultAtRestKeysEnv = "DUOHUO_AT_REST_KEYS"

// AtRest configures SM4 encryption at rest of the replicated store's file
// (docs/gm.md, "SM4 at rest"). The key ring's format is checked where the
// keys are loaded (package gm); here only that they are there and that a
// key file is private.
type AtRest struct {
	KeysFile string `yaml:"keys_file" doc:"File of the SM4-128 key ring: one ID:KEY a line (ID 1 to 255, KEY 16 bytes as 32 hex digits or base64), an optional active:ID (default the highest ID); mode 0600, like an ssh key: a file group or others may read is refused. Relative to this file's directory."`
	KeysEnv  string `yaml:"keys_env" doc:"Environment variable holding the key ring instead, entries separated by commas or newlines; default DUOHUO_AT_REST_KEYS when keys_file is not given either."`
}

func (a *AtRest) validate(c *checker, path string) {
	switch {
	case a.KeysFile != "" && a.KeysEnv != "":
		c.errorf(join(path, "keys_file"), "excludes keys_env: give the key ring one way")
	case a.KeysFile != "":
		p := a.KeysFile
		if !filepath.IsAbs(p) && c.d.dir != "" {
			p = filepath.Join(c.d.dir, p)
		}
		if err := checkKeyFile(p); err != nil {
			c.errorf(join(path, "keys_file"), "%v", err)
		}
	default:
		env := a.keysEnv()
		if !validEnvName(env) {
			c.errorf(join(path, "keys_env"), "invalid variable name %q: use letters, digits and _", env)
		} else if v, _ := c.d.lookup(env); v == "" {
			c.errorf(join(path, "keys_env"), "environment variable %s is not set or empty: it must hold the at-rest key ring", env)
		}
	}
}

func (a *AtRest) keysEnv() string {
	if a.KeysEnv == "" {
		return DefaultAtRestKeysEnv
	}
	return a.KeysEnv
}

// checkKeyFile refuses a key file that is missing, not a regular file, or
// open to group or others (as ssh refuses such a private key).
func checkKeyFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("key file: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("key file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("key file %s has mode %#o: group or others may access it; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}

// Source says where the key ring is: a file (its path, made absolute by
// [Load]), or else the environment variable whose value is the ring.
func (a *AtRest) Source() (file, env string) {
	if a.KeysFile != "" {
		return a.KeysFile, ""
	}
	return "", a.keysEnv()
}
