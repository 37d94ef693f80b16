package toxiapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/duohuo/duohuo/fault/toxiapi"
)

func Example() {
	s := toxiapi.New(toxiapi.Config{})
	defer s.Close()
	api := httptest.NewServer(s) // duohuo chaos serve listens on 127.0.0.1:8474
	defer api.Close()

	post := func(path, body string) {
		resp, err := http.Post(api.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(b)))
	}
	post("/proxies", `{"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:6379", "enabled": false}`)
	post("/proxies/redis/toxics", `{"type": "latency", "attributes": {"latency": 100}}`)
	post("/proxies/redis/toxics", `{"type": "latency"}`)
	post("/proxies/nope/toxics", `{"type": "latency"}`)
	// Output:
	// 201 {"name":"redis","listen":"127.0.0.1:0","upstream":"127.0.0.1:6379","enabled":false,"toxics":[]}
	// 200 {"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}
	// 409 {"error":"toxic already exists","status":409}
	// 404 {"error":"proxy not found","status":404}
}
