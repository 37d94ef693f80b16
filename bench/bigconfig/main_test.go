package main

import (
	"bytes"
	"testing"

	"github.com/duohuo/duohuo/discovery/static"
	"github.com/duohuo/duohuo/internal/config"
)

func TestWritesValidInputs(t *testing.T) {
	var cfg bytes.Buffer
	if err := writeConfig(&cfg, 300, 7); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("big.yaml", cfg.Bytes())
	if err != nil {
		t.Fatalf("the configuration does not validate: %v", err)
	}
	if len(c.Routes) != 300 || len(c.Services) != 7 {
		t.Errorf("got %d routes, %d services; want 300, 7", len(c.Routes), len(c.Services))
	}
	var ins bytes.Buffer
	if err := writeInstances(&ins, 500); err != nil {
		t.Fatal(err)
	}
	got, err := static.Parse("instances.yaml", ins.Bytes(), "api")
	if err != nil || len(got["api"]) != 500 {
		t.Errorf("instances file: %d instances, %v; want 500", len(got["api"]), err)
	}
}
