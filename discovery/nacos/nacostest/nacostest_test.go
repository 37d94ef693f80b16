package nacostest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type answer struct {
	Hosts []struct {
		IP      string `json:"ip"`
		Healthy bool   `json:"healthy"`
	} `json:"hosts"`
	ReachProtectionThreshold bool `json:"reachProtectionThreshold"`
}

func get(t *testing.T, srv *nacostest.Server, path string, q url.Values) (int, answer, string) {
	t.Helper()
	resp, err := http.Get(srv.URL() + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode, a, string(b)
}

func unhealthy(addr string) nacostest.Host {
	h := nacostest.Instance(addr)
	h.Healthy = false
	return h
}

func TestProtectThreshold(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api", unhealthy("10.0.0.1:80"), unhealthy("10.0.0.2:80"))
	list := url.Values{"serviceName": {"api"}}

	t.Run("all unhealthy with the default threshold 0: all listed as healthy", func(t *testing.T) {
		_, a, _ := get(t, srv, "/nacos/v1/ns/instance/list", list)
		if !a.ReachProtectionThreshold || len(a.Hosts) != 2 || !a.Hosts[0].Healthy || !a.Hosts[1].Healthy {
			t.Errorf("answer = %+v, want both hosts healthy and reachProtectionThreshold", a)
		}
	})
	t.Run("with healthyOnly=true protection never fires: empty", func(t *testing.T) {
		q := url.Values{"serviceName": {"api"}, "healthyOnly": {"true"}}
		_, a, _ := get(t, srv, "/nacos/v1/ns/instance/list", q)
		if a.ReachProtectionThreshold || len(a.Hosts) != 0 {
			t.Errorf("answer = %+v, want no hosts and no protection", a)
		}
	})
	t.Run("above the threshold the unhealthy are listed as they are", func(t *testing.T) {
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"), unhealthy("10.0.0.2:80"))
		_, a, _ := get(t, srv, "/nacos/v1/ns/instance/list", list)
		if a.ReachProtectionThreshold || len(a.Hosts) != 2 || a.Hosts[1].Healthy {
			t.Errorf("answer = %+v, want both hosts, the second unhealthy", a)
		}
	})
	t.Run("the threshold is reached at equality", func(t *testing.T) {
		srv.SetProtectThreshold("", "", "api", 0.5)
		_, a, _ := get(t, srv, "/nacos/v1/ns/instance/list", list)
		if !a.ReachProtectionThreshold {
			t.Errorf("answer = %+v, want reachProtectionThreshold at 1/2 <= 0.5", a)
		}
	})
	t.Run("a restarting member lists nothing", func(t *testing.T) {
		srv.SetRestarting(true)
		defer srv.SetRestarting(false)
		_, a, _ := get(t, srv, "/nacos/v1/ns/instance/list", list)
		if len(a.Hosts) != 0 {
			t.Errorf("answer = %+v, want no hosts", a)
		}
	})
}

func TestGone(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	if code, _, _ := get(t, srv, "/nacos/v2/ns/instance/list", url.Values{"serviceName": {"api"}}); code != http.StatusGone {
		t.Errorf("v2 list answered %d, want 410", code)
	}
	off := nacostest.NewServer(nacostest.Config{V1Disabled: true})
	defer off.Close()
	if code, _, _ := get(t, off, "/nacos/v1/ns/instance/list", url.Values{"serviceName": {"api"}}); code != http.StatusGone {
		t.Errorf("v1 list with compatibility off answered %d, want 410", code)
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	srv := nacostest.NewServer(nacostest.Config{Username: "u", Password: "p", TokenTTL: time.Minute, Now: func() time.Time { return now }})
	defer srv.Close()
	list := url.Values{"serviceName": {"api"}}
	if code, _, body := get(t, srv, "/nacos/v1/ns/instance/list", list); code != http.StatusForbidden {
		t.Errorf("list without a token answered %d %s, want 403", code, body)
	}
	resp, err := http.Post(srv.URL()+"/nacos/v1/auth/login", "application/x-www-form-urlencoded", strings.NewReader("username=u&password=p"))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int64  `json:"tokenTtl"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.AccessToken == "" || login.TokenTTL != 60 {
		t.Fatalf("login = %+v, want a token for 60s", login)
	}
	list.Set("accessToken", login.AccessToken)
	if code, _, body := get(t, srv, "/nacos/v1/ns/instance/list", list); code != http.StatusOK {
		t.Errorf("list with a fresh token answered %d %s, want 200", code, body)
	}
	now = now.Add(time.Minute) // the handler reads now; no request is in flight
	if code, _, body := get(t, srv, "/nacos/v1/ns/instance/list", list); code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("list with an expired token answered %d %s, want 403 token expired", code, body)
	}
}
