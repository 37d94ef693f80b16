package gmcert_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/gm/gmcert"
)

func Example() {
	ca, _ := gmcert.NewCA("example CA", 24*time.Hour)
	pair, _ := ca.Issue(gmcert.Request{Hosts: []string{"localhost", "127.0.0.1"}})
	fmt.Println(pair.Sign.Cert.Subject.CommonName, pair.Sign.Cert.DNSNames, pair.Sign.Cert.IPAddresses)
	fmt.Println(pair.Sign.Cert.Issuer.CommonName, pair.Enc.Cert.Issuer.CommonName)
	// Output:
	// localhost [localhost] [127.0.0.1]
	// example CA example CA
}
