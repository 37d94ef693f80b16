package drill

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRunAgainstATargetURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hello" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	rep, err := Run(t.Context(), Options{Target: srv.URL + "/hello", Rate: 50, Duration: 4 * time.Second, Warmup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "target" {
		t.Fatalf("scenarios = %+v, want one named target", rep.Scenarios)
	}
	p, ok := rep.Scenarios[0].Phase("steady")
	if !ok || p.Requests != 200 || p.OK != 200 || rep.Scenarios[0].Fault != nil {
		t.Errorf("steady phase = %+v, want 200 requests all ok and no fault", p)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"duration too short for four phases", Options{Duration: 3 * time.Second}},
		{"duration over an hour", Options{Duration: 2 * time.Hour}},
		{"negative rate", Options{Rate: -5, Duration: 10 * time.Second}},
		{"target without a scheme", Options{Target: "localhost:8080/", Duration: 10 * time.Second}},
		{"target with another scheme", Options{Target: "ftp://localhost/", Duration: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tc.o); !errors.Is(err, ErrBadOptions) && !errors.Is(err, ErrBadLoad) {
				t.Errorf("Run(%+v) error = %v, want ErrBadOptions", tc.o, err)
			}
		})
	}
}
