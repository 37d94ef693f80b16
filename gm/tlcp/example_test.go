package tlcp_test

import (
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
)

func Example() {
	ca, _ := gmcert.NewCA("example CA", time.Hour)
	pair, _ := ca.Issue(gmcert.Request{Hosts: []string{"localhost"}})
	sign, _ := tlcp.X509KeyPair(pair.Sign.CertPEM, pair.Sign.KeyPEM)
	enc, _ := tlcp.X509KeyPair(pair.Enc.CertPEM, pair.Enc.KeyPEM)

	ln, err := tlcp.Listen("tcp", "127.0.0.1:0", &tlcp.Config{Certificates: []tlcp.Certificate{sign, enc}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "你好, TLCP")
	}()

	roots := smx509.NewCertPool()
	roots.AddCert(ca.Cert)
	conn, err := tlcp.Dial("tcp", ln.Addr().String(), &tlcp.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	msg, _ := io.ReadAll(conn)
	st := conn.ConnectionState()
	fmt.Printf("%s %#x %s\n", msg, st.Version, tlcp.CipherSuiteName(st.CipherSuite))
	<-done
	// Output: 你好, TLCP 0x101 ECC_SM4_GCM_SM3
}
