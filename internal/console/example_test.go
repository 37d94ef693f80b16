package console_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/duohuo/duohuo/internal/console"
)

func ExampleSiteName() {
	fmt.Println(console.SiteName("ctyun", "cn-north-1", ""))
	// Output: ctyun/cn-north-1
}

func ExampleOwnsAuth() {
	for _, p := range []string{"/", "/ui/", "/ui/api/events", "/v1/services"} {
		fmt.Println(p, console.OwnsAuth(httptest.NewRequest("GET", p, nil)))
	}
	// Output:
	// / true
	// /ui/ true
	// /ui/api/events true
	// /v1/services false
}
