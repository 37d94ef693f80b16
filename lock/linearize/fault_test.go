package linearize_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/lock/linearize"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"known names keep their order", []string{"pause", "none"}, []string{"pause", "none"}, false},
		{"all expands to every fault, sorted", []string{"all"}, linearize.FaultNames(), false},
		{"an unknown name is refused", []string{"pause", "meteor"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := linearize.ParseFaults(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFaults(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ParseFaults(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseFaults(f *testing.F) {
	f.Add("pause,none")
	f.Add("all")
	f.Add("pause,meteor")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := linearize.ParseFaults(strings.Split(s, ","))
		if err != nil {
			return
		}
		for _, fl := range fs {
			if _, ok := linearize.Faults[fl.Name]; !ok {
				t.Fatalf("ParseFaults(%q) returned unknown fault %q", s, fl.Name)
			}
		}
	})
}

func TestRunRefusesWhatItCannotDo(t *testing.T) {
	tests := []struct {
		name  string
		env   linearize.Env
		fault string
		cfg   linearize.Config
		want  error
	}{
		{"a server fault on a cluster without control", linearize.Env{Endpoints: []string{"127.0.0.1:1"}}, "leader-kill", linearize.Config{}, linearize.ErrNeedsCluster},
		{"more clients than the checker can afford", clusterEnv(), "none", linearize.Config{Clients: linearize.MaxClients + 1}, nil},
		{"a TTL below etcd's one second", clusterEnv(), "none", linearize.Config{TTL: 500e6}, nil},
		{"a process fault without a client command", clusterEnv(), "sigstop", linearize.Config{}, linearize.ErrNeedsClientCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := linearize.Run(context.Background(), tt.env, linearize.Etcdlock, linearize.Faults[tt.fault], tt.cfg)
			if err == nil {
				t.Fatalf("Run: nil error, want one")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Run: err = %v, want %v", err, tt.want)
			}
		})
	}
}
