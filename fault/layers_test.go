package fault_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/fault"
)

func names(t fault.Table) []string {
	var n []string
	for _, r := range t.Rules {
		n = append(n, r.Name)
	}
	return n
}

func rule(name, spec string) fault.Rule {
	s, err := fault.ParseSpec(spec)
	if err != nil {
		panic(err)
	}
	return fault.Rule{Name: name, Spec: s}
}

// The file's layer (Update, on every reload) and the run-time layer
// (SetRule, DeleteRule, Replace) stack: a reload keeps what was changed at
// run time, and Revert drops it.
func TestRunTimeChangesSurviveReloads(t *testing.T) {
	f := fault.New(fault.Options{})
	file := fault.Table{Rules: []fault.Rule{rule("a", "abort=503@1%"), rule("b", "delay=10ms@1%")}}
	if err := f.Update(file); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRule(rule("drill", "abort=503@100%")); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRule(rule("b", "delay=20ms@1%")); err != nil { // overrides the file's b
		t.Fatal(err)
	}
	if err := f.DeleteRule("a"); err != nil { // a file rule, deleted at run time
		t.Fatal(err)
	}
	want := []string{"drill", "b"}
	if got := names(f.Table()); !slices.Equal(got, want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
	// A reload: the file changed a and added c.
	file2 := fault.Table{Rules: []fault.Rule{rule("a", "abort=500@1%"), rule("b", "delay=10ms@1%"), rule("c", "delay=1ms@1%")}}
	if err := f.Update(file2); err != nil {
		t.Fatal(err)
	}
	want = []string{"drill", "b", "c"}
	if got := names(f.Table()); !slices.Equal(got, want) {
		t.Fatalf("after a reload: rules %v, want %v (the run-time changes kept, the file's new rule in)", got, want)
	}
	if d := f.Table().Rules[1].Spec.Delay; d == nil || d.Duration.String() != "20ms" {
		t.Errorf("b after the reload: %+v, want the run-time 20ms", d)
	}
	set, deleted := f.Changes()
	if !slices.Equal(set, []string{"b", "drill"}) || !slices.Equal(deleted, []string{"a"}) {
		t.Errorf("Changes = %v, %v; want [b drill], [a]", set, deleted)
	}
	f.Revert()
	if got := names(f.Table()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("after Revert: rules %v, want the file's a b c", got)
	}
	// Replace: exactly this table, whatever the file says, until Revert.
	if err := f.Replace(fault.Table{MaxActive: 3, Rules: []fault.Rule{rule("only", "abort=503@1%")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Update(file2); err != nil {
		t.Fatal(err)
	}
	if got := f.Table(); !slices.Equal(names(got), []string{"only"}) || got.MaxActive != 3 {
		t.Errorf("after Replace and a reload: %v max_active %d, want [only] and 3", names(got), got.MaxActive)
	}
	if err := f.DeleteRule("nope"); !errors.Is(err, fault.ErrNoRule) {
		t.Errorf("DeleteRule(nope) = %v, want ErrNoRule", err)
	}
}

// A run-time rule set for a time goes by itself when it ends, and the
// file's rule it replaced is back; through the admin API every change has
// a ttl, an hour unless it says otherwise.
func TestRunTimeRulesExpire(t *testing.T) {
	f := fault.New(fault.Options{})
	if err := f.Update(fault.Table{Rules: []fault.Rule{rule("a", "abort=503@1%")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRuleFor(rule("a", "abort=500@100%"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRuleFor(rule("drill", "delay=1ms@1%"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if exp := f.Expiries(); len(exp) != 2 {
		t.Fatalf("Expiries = %v, want a and drill", exp)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tb := f.Table()
		if len(tb.Rules) == 2 && tb.Rules[1].Name == "a" && tb.Rules[1].Spec.Abort.Status == 503 {
			break // drill, then the file's a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired run-time a is still in force: %+v", tb.Rules)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if exp := f.Expiries(); len(exp) != 1 {
		t.Errorf("Expiries after a ended = %v, want drill only", exp)
	}

	srv := httptest.NewServer(f.AdminHandler())
	defer srv.Close()
	put := func(url, body string) int {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(srv.URL+"/v1/faults/x", `{"spec": "abort=503@1%"}`); code != 200 {
		t.Fatalf("PUT without ttl = %d", code)
	}
	if end := f.Expiries()["x"]; time.Until(end) < 59*time.Minute || time.Until(end) > time.Hour {
		t.Errorf("a rule set without ttl ends at %v, want in an hour", end)
	}
	for _, bad := range []string{"0s", "forever", "48h", "-1m"} {
		if code := put(srv.URL+"/v1/faults/y?ttl="+bad, `{"spec": "abort=503@1%"}`); code != 400 {
			t.Errorf("PUT with ttl=%s = %d, want 400", bad, code)
		}
	}
	if code := put(srv.URL+"/v1/faults?ttl=2m", `{"rules": [{"name": "z", "spec": "abort=503@1%"}]}`); code != 200 {
		t.Fatalf("PUT table with ttl = %d", code)
	}
	if end := f.Expiries()["z"]; time.Until(end) > 2*time.Minute || time.Until(end) < time.Minute {
		t.Errorf("z ends at %v, want in 2 minutes", end)
	}
}
