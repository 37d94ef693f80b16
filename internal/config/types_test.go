package config

import (
	"strings"
	"testing"
	"time"
)

func TestDurationParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{in: "250ms", want: Duration(250 * time.Millisecond)},
		{in: "1m30s", want: Duration(90 * time.Second)},
		{in: "0s", want: 0},
		{in: "0", want: 0},
		{in: " 5s ", want: Duration(5 * time.Second)},
		{in: "1.5h", want: Duration(90 * time.Minute)},
		{in: "5", wantErr: "write a number with a unit"},
		{in: "5 seconds", wantErr: "write a number with a unit"},
		{in: "", wantErr: "write a number with a unit"},
		{in: "-1s", wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Duration.UnmarshalText(%q) = %v, %v; want error containing %q", tt.in, d, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || d != tt.want):
			t.Errorf("Duration.UnmarshalText(%q) = %v, %v; want %v", tt.in, d, err, tt.want)
		}
	}
}

func TestSizeParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "1024", want: 1024},
		{in: "4MiB", want: 4 * MiB},
		{in: "512KiB", want: 512 * KiB},
		{in: "64kib", want: 64 * KiB},
		{in: "1GB", want: 1_000_000_000},
		{in: "1.5MiB", want: 3 * MiB / 2},
		{in: "2 GiB", want: 2 * GiB},
		{in: "1TiB", want: TiB},
		{in: "10B", want: 10},
		{in: "0", want: 0},
		{in: "1.5B", wantErr: "not a whole number of bytes"},
		{in: "4 parsecs", wantErr: "write bytes or a number with a unit"},
		{in: "MiB", wantErr: "write bytes or a number with a unit"},
		{in: "-1KiB", wantErr: "write bytes or a number with a unit"},
		{in: "1.2.3KiB", wantErr: "write bytes or a number with a unit"},
		{in: "99999999TiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		var s Size
		err := s.UnmarshalText([]byte(tt.in))
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Size.UnmarshalText(%q) = %v, %v; want error containing %q", tt.in, s, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || s != tt.want):
			t.Errorf("Size.UnmarshalText(%q) = %d, %v; want %d", tt.in, s, err, tt.want)
		}
	}
}

func TestSizeStringRoundTrips(t *testing.T) {
	for _, s := range []Size{0, 1, 1500, KiB, 64 * KiB, 4 * MiB, 3 * MiB / 2, GiB, 5 * TiB} {
		var back Size
		if err := back.UnmarshalText([]byte(s.String())); err != nil || back != s {
			t.Errorf("Size(%d).String() = %q parses back to %d, %v", s, s.String(), back, err)
		}
	}
	if got := (4 * MiB).String(); got != "4MiB" {
		t.Errorf("(4 MiB).String() = %q, want 4MiB", got)
	}
}

func TestPercentParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Percent
		wantErr bool
	}{
		{in: "50%", want: 50},
		{in: "12.5", want: 12.5},
		{in: "0%", want: 0},
		{in: " 100 % ", want: 100},
		{in: "half", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "%", wantErr: true},
	}
	for _, tt := range tests {
		var p Percent
		err := p.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr || !tt.wantErr && p != tt.want {
			t.Errorf("Percent.UnmarshalText(%q) = %v, %v; want %v (error %v)", tt.in, p, err, tt.want, tt.wantErr)
		}
	}
	if got := Percent(50).Fraction(); got != 0.5 {
		t.Errorf("Percent(50).Fraction() = %v, want 0.5", got)
	}
}

func TestInstanceLabelsParse(t *testing.T) {
	tests := []struct {
		in      string
		want    InstanceLabels
		wantErr bool
	}{
		{in: "true", want: DefaultInstanceLabels},
		{in: "false", want: 0},
		{in: "64", want: 64},
		{in: "0", want: 0},
		{in: "-1", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "2000000", wantErr: true},
	}
	for _, tt := range tests {
		var l InstanceLabels
		err := l.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr || !tt.wantErr && l != tt.want {
			t.Errorf("InstanceLabels.UnmarshalText(%q) = %v, %v; want %v (error %v)", tt.in, l, err, tt.want, tt.wantErr)
		}
	}
}
