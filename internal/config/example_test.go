package config_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/duohuo/duohuo/internal/config"
)

func ExampleParse() {
	cfg, err := config.Parse("duohuo.yaml", []byte(`
services:
  - name: api
    discovery:
      - static:
          instances:
            - {addr: 10.0.0.1:8080, cloud: ctyun, region: cn-north-1}
routes:
  - name: all
    service: api
    timeout: 2s
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := cfg.Routes[0]
	fmt.Println(r.Service, time.Duration(r.Timeout), r.Retry.Attempts, cfg.Services[0].Balancer)
	// Output: api 2s 1 peak_ewma
}

func ExampleErrors() {
	_, err := config.Parse("duohuo.yaml", []byte(`
admin:
  listen: 0.0.0.0:9900
routes:
  - name: all
    service: api
    retry: {attempts: 11}
`))
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Printf("%d:%d %s\n", e.Line, e.Col, e.Path)
		}
	}
	// Output:
	// 3:11 admin.listen
	// 6:14 routes[0].service
	// 7:23 routes[0].retry.attempts
}
