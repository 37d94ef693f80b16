package gray_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/request"
)

// Five percent of users, by x-user-id, and every tester go to v2; the rest
// stay on the baseline. The same user always gets the same answer.
func Example() {
	r, err := gray.Compile(gray.Policy{
		Subsets: []gray.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}},
		Rules: []gray.Rule{
			{Name: "testers", Subset: "v2", Headers: []gray.Match{{Name: "x-tester", Exact: "yes"}}},
			{Name: "5%", Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 5}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range []map[string]string{
		{"x-tester": "yes"},
		{"x-user-id": "user-9"}, // bucket 122: in the 5% (below 500)
		{"x-user-id": "alice"},  // bucket 8690: not
		{},
	} {
		req := httptest.NewRequest("GET", "http://shop.example.com/cart", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		d := r.Route(request.FromHTTP(req), "")
		fmt.Printf("%s by %s %q\n", d.Subset, d.Reason, d.RuleName)
	}
	// Output:
	// v2 by rule "testers"
	// v2 by rule "5%"
	// baseline by baseline ""
	// baseline by baseline ""
}

// Compile reports every problem with the path of its field.
func ExampleCompile() {
	_, err := gray.Compile(gray.Policy{Rules: []gray.Rule{
		{Subset: "v3"},
		{Subset: "baseline", Headers: []gray.Match{{Name: "x-id", Regex: "[0-9a-f]{800}"}}},
	}})
	for _, fe := range gray.FieldErrors(err) {
		fmt.Println(fe)
	}
	// Output:
	// rules[0].subset: "v3" is not a subset
	// rules[1].headers[0].regex: program size 804 exceeds 500
}

// A bad release is rolled back in one call; the next request is routed by
// the previous policy.
func ExampleStore_Rollback() {
	s := gray.NewStore(gray.StoreConfig{})
	v2 := []gray.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}}
	s.Apply("checkout", gray.Policy{Subsets: v2}, 0, gray.Meta{Who: "alice"})
	s.Apply("checkout", gray.Policy{Subsets: v2, Rules: []gray.Rule{{Subset: "v2"}}}, 0, gray.Meta{Who: "alice", Comment: "all in"})
	v, _ := gray.Probe{}.View()
	fmt.Println(s.Revision(), s.Router("checkout").Route(v, "").Subset)
	c, err := s.Rollback("checkout", 0, gray.Meta{Who: "bob", Comment: "errors up"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Revision, c.Kind, c.RolledBack, s.Router("checkout").Route(v, "").Subset)
	// Output:
	// 2 v2
	// 3 rollback 2 baseline
}
