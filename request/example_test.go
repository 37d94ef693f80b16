package request_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/duohuo/duohuo/request"
)

// The decision core reads a request through a View, whatever the HTTP stack.
func ExampleFromHTTP() {
	r := httptest.NewRequest("GET", "http://API.example.com:8080/v1/users?lane=gray", nil)
	r.Header.Set("X-User-Id", "u42")
	v := request.FromHTTP(r)
	fmt.Println(v.Method(), v.Host(), v.Path(), v.Header("x-user-id"), v.Query("lane"))
	// Output: GET api.example.com /v1/users u42 gray
}
