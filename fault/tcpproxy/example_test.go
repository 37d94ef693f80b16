package tcpproxy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

func Example() {
	// An echo server stands in for the service under test.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()

	p, err := tcpproxy.Listen("127.0.0.1:0", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	c, _ := net.Dial("tcp", p.Addr().String())
	defer c.Close()
	buf := make([]byte, 4)

	// 50ms each way, on the connection that is already open.
	p.Set("slow", tcpproxy.Both, tcpproxy.Latency{Delay: 50 * time.Millisecond})
	start := time.Now()
	c.Write([]byte("ping"))
	io.ReadFull(c, buf)
	fmt.Println(string(buf), time.Since(start) >= 100*time.Millisecond)

	// Reset the client's connection.
	p.Set("rst", tcpproxy.Downstream, tcpproxy.ResetPeer{})
	_, err = c.Read(buf)
	fmt.Println(errors.Is(err, syscall.ECONNRESET))
	// Output:
	// ping true
	// true
}
