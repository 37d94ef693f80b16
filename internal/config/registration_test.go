package config

import (
	"strings"
	"testing"
)

// TestRegistration: the rules of the registration section, each error at
// its place.
func TestRegistration(t *testing.T) {
	const listener = "listeners: [{name: web, listen: \"10.0.0.5:8080\"}]\n"
	tests := []struct {
		name, text       string
		wantPath, wantIn string // "" means valid
		wantAddr         string
	}{
		{"nacos with the listener's address", listener + "registration: {service: edge, nacos: {servers: [10.0.0.9:8848]}}", "", "", "10.0.0.5:8080"},
		{"consul with its defaults", listener + "registration: {service: edge, consul: {}}", "", "", "10.0.0.5:8080"},
		{"etcd with an address", "registration: {service: edge, address: \"gw.internal:80\", etcd: {endpoints: [\"http://127.0.0.1:2379\"]}}", "", "", "gw.internal:80"},
		{"no registry", listener + "registration: {service: edge}", "registration", "exactly one of etcd, nacos and consul (0 given)", ""},
		{"two registries", listener + "registration: {service: edge, consul: {}, nacos: {servers: [10.0.0.9]}}", "registration", "(2 given)", ""},
		{"no service", listener + "registration: {consul: {}}", "registration.service", "required", ""},
		{"a wildcard address", listener + "registration: {service: edge, address: \"0.0.0.0:80\", consul: {}}", "registration.address", "not an address clients can reach", ""},
		{"a wildcard listener and no address", "listeners: [{name: web, listen: \":8080\"}]\nregistration: {service: edge, consul: {}}", "registration.address", "which clients cannot dial", ""},
		{"no listener and no address", "registration: {service: edge, consul: {}}", "registration.address", "is required without a listener", ""},
		{"a bad nacos server", listener + "registration: {service: edge, nacos: {servers: [\"ftp://x\"]}}", "registration.nacos.servers[0]", "not http or https", ""},
		{"a password without a user", listener + "registration: {service: edge, nacos: {servers: [x], password_env: HOME}}", "registration.nacos.username", "is required with a password", ""},
		{"a consul TTL below 1s", listener + "registration: {service: edge, consul: {ttl: 10ms}}", "registration.consul.ttl", "", ""},
		{"an etcd prefix of the whole keyspace", listener + "registration: {service: edge, etcd: {endpoints: [\"http://127.0.0.1:2379\"], prefix: /}}", "registration.etcd.prefix", "whole keyspace", ""},
		{"tlcp to a registry", listener + "registration: {service: edge, consul: {tls: {tlcp: true, insecure_skip_verify: true}}}", "registration", "registries speak TLS", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("t.yaml", []byte(tt.text+"\n"), testEnv)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("parse:\n%s\n%v", tt.text, err)
				}
				if addr, err := cfg.RegistrationAddress(); err != nil || addr != tt.wantAddr {
					t.Errorf("RegistrationAddress = %q, %v; want %q", addr, err, tt.wantAddr)
				}
				return
			}
			es := errorsOf(t, err)
			found := false
			for _, e := range es {
				if e.Path == tt.wantPath && strings.Contains(e.Msg, tt.wantIn) {
					found = true
				}
			}
			if !found {
				t.Errorf("parse:\n%s\nerrors %v, want one at %s containing %q", tt.text, err, tt.wantPath, tt.wantIn)
			}
		})
	}
}
