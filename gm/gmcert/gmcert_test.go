package gmcert_test

import (
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/gmcert"
)

func TestIssuedPairsVerifyAgainstTheCA(t *testing.T) {
	ca, err := gmcert.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The CA survives a round trip through its PEM files.
	ca, err = gmcert.LoadCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := smx509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, client := range []bool{false, true} {
		pair, err := ca.Issue(gmcert.Request{Hosts: []string{"gw.example", "10.0.0.1"}, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		eku := smx509.ExtKeyUsageServerAuth
		if client {
			eku = smx509.ExtKeyUsageClientAuth
		}
		for _, kp := range []gmcert.KeyPair{pair.Sign, pair.Enc} {
			if _, err := kp.Cert.Verify(smx509.VerifyOptions{Roots: roots, DNSName: "gw.example", KeyUsages: []smx509.ExtKeyUsage{eku}}); err != nil {
				t.Errorf("client %v, %v: %v", client, kp.Cert.Subject, err)
			}
			if err := kp.Cert.VerifyHostname("10.0.0.1"); err != nil {
				t.Errorf("IP SAN: %v", err)
			}
		}
		if pair.Sign.Cert.KeyUsage&smx509.KeyUsageDigitalSignature == 0 || pair.Sign.Cert.KeyUsage&smx509.KeyUsageKeyEncipherment != 0 {
			t.Errorf("signing certificate key usage = %b", pair.Sign.Cert.KeyUsage)
		}
		if pair.Enc.Cert.KeyUsage&smx509.KeyUsageKeyEncipherment == 0 || pair.Enc.Cert.KeyUsage&smx509.KeyUsageDigitalSignature != 0 {
			t.Errorf("encryption certificate key usage = %b", pair.Enc.Cert.KeyUsage)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := gmcert.NewCA("", time.Hour); err == nil {
		t.Error("NewCA without a name succeeded")
	}
	ca, err := gmcert.NewCA("c", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(gmcert.Request{}); err == nil {
		t.Error("Issue without hosts succeeded")
	}
	other, _ := gmcert.NewCA("d", time.Hour)
	if _, err := gmcert.LoadCA(ca.CertPEM, other.KeyPEM); err == nil {
		t.Error("LoadCA with another CA's key succeeded")
	}
	pair, _ := ca.Issue(gmcert.Request{Hosts: []string{"x"}})
	if _, err := gmcert.LoadCA(pair.Sign.CertPEM, pair.Sign.KeyPEM); err == nil {
		t.Error("LoadCA of a leaf succeeded")
	}
	if _, err := gmcert.LoadCA([]byte("junk"), nil); err == nil {
		t.Error("LoadCA of junk succeeded")
	}
}
