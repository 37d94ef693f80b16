package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
)

func init() { subcommands = append(subcommands, newGMCmd) }

func newGMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gm",
		Short: "National cryptography: SM2 certificates for TLCP, and a TLCP HTTP client",
		Long: `Tools for TLCP (GB/T 38636-2020), the national transport protocol that
listeners serve with a double certificate (docs/gm.md).`,
	}
	cmd.AddCommand(newGMCertCmd(), newGMClientCmd())
	return cmd
}

func newGMCertCmd() *cobra.Command {
	var (
		dir    string
		caName string
		client bool
		days   int
	)
	cmd := &cobra.Command{
		Use:   "cert HOST...",
		Short: "Make an SM2 CA and a signing and encryption certificate pair for hosts",
		Long: `Make an SM2 CA (once: ca.crt and ca.key in --dir, reused afterwards) and, for
the hosts given (DNS names or IP addresses; the first names the files), a
TLCP double certificate: NAME-sign.crt/.key and NAME-enc.crt/.key, or
NAME-client-sign/-enc with --client. Keys are PKCS #8 PEM files of mode 0600.
Existing files are never overwritten. It prints what to put in the config.

These certificates suit development, tests and private networks. A 密评
(GB/T 39786) assessment expects certificates from a licensed CA.`,
		Example: `  duohuo gm cert localhost 127.0.0.1
  duohuo gm cert --dir /etc/duohuo/gm gw.internal 10.0.0.5
  duohuo gm cert --client --dir /etc/duohuo/gm ops-laptop`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, hosts []string) error {
			if days <= 0 {
				return usagef("--days must be positive")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			ca, made, err := loadOrMakeCA(dir, caName)
			if err != nil {
				return err
			}
			pair, err := ca.Issue(gmcert.Request{Hosts: hosts, Client: client, Validity: time.Duration(days) * 24 * time.Hour})
			if err != nil {
				return usagef("%v", err)
			}
			base := safeName(hosts[0])
			if client {
				base += "-client"
			}
			files := []struct {
				name string
				data []byte
				mode os.FileMode
			}{
				{base + "-sign.crt", pair.Sign.CertPEM, 0o644}, {base + "-sign.key", pair.Sign.KeyPEM, 0o600},
				{base + "-enc.crt", pair.Enc.CertPEM, 0o644}, {base + "-enc.key", pair.Enc.KeyPEM, 0o600},
			}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
					return fmt.Errorf("%s exists: remove it or use another --dir", filepath.Join(dir, f.name))
				}
			}
			for _, f := range files {
				if err := writeNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			abs, _ := filepath.Abs(dir)
			if made {
				fmt.Fprintf(out, "Made the CA %s (%s/ca.crt, key ca.key): give ca.crt to TLCP clients.\n", caName, abs)
			} else {
				fmt.Fprintf(out, "Used the CA in %s/ca.crt.\n", abs)
			}
			fmt.Fprintf(out, "Made the double certificate of %s for %s, valid %d days.\n\n", base, strings.Join(hosts, ", "), days)
			p := func(name string) string { return filepath.Join(abs, name) }
			if client {
				fmt.Fprintf(out, "For duohuo gm client:\n  --cert %s --key %s --enc-cert %s --enc-key %s\n",
					p(base+"-sign.crt"), p(base+"-sign.key"), p(base+"-enc.crt"), p(base+"-enc.key"))
				return nil
			}
			fmt.Fprintf(out, `For the config file (listeners[].tls; add cert_file and key_file to serve TLS too):
    tls:
      sign_cert_file: %s
      sign_key_file: %s
      enc_cert_file: %s
      enc_key_file: %s

Try it: duohuo gm client --ca %s https://%s:PORT/
`, p(base+"-sign.crt"), p(base+"-sign.key"), p(base+"-enc.crt"), p(base+"-enc.key"), p("ca.crt"), hosts[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "gm-certs", "directory of the CA and the certificates")
	cmd.Flags().StringVar(&caName, "ca-name", "duohuo development CA", "common name of a new CA")
	cmd.Flags().BoolVar(&client, "client", false, "make a client's certificates (client authentication) instead of a server's")
	cmd.Flags().IntVar(&days, "days", 825, "validity of the host certificates in days")
	return cmd
}

// loadOrMakeCA reads dir/ca.crt and dir/ca.key, or makes them.
func loadOrMakeCA(dir, name string) (*gmcert.CA, bool, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, err := os.ReadFile(certPath)
	if err == nil {
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, false, fmt.Errorf("%s exists but its key cannot be read: %w", certPath, err)
		}
		ca, err := gmcert.LoadCA(certPEM, keyPEM)
		if err != nil {
			return nil, false, usagef("%s: %v", certPath, err)
		}
		return ca, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	ca, err := gmcert.NewCA(name, 10*365*24*time.Hour)
	if err != nil {
		return nil, false, err
	}
	if err := writeNew(keyPath, ca.KeyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := writeNew(certPath, ca.CertPEM, 0o644); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// writeNew writes a file that must not exist yet, with mode from the start
// (a key is never readable by others, not even for a moment).
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// safeName makes a host usable as a file name ("::1" → "__1").
func safeName(h string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '\\' || r == '*' {
			return '_'
		}
		return r
	}, h)
}

func newGMClientCmd() *cobra.Command {
	var (
		caFile, certFile, keyFile, encCertFile, encKeyFile string
		serverName, method, data, suites                   string
		headers                                            []string
		insecure, include, verbose                         bool
		timeout                                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "client URL",
		Short: "Send one HTTP request over TLCP and print the answer (curl cannot speak TLCP)",
		Long: `Send one HTTP/1.1 request to an https URL over TLCP and print the response
body (with -i, the status line and headers first). The server's certificates
are verified against --ca; --insecure skips that, for tests. A client
certificate (--cert/--key, and --enc-cert/--enc-key for the ECDHE suites) is
sent when the server asks for one. With -v the TLCP suite and the server's
certificates are printed on standard error.

Exit status: 0 an answer arrived (whatever its status), 1 no answer, 2 usage.`,
		Example: `  duohuo gm client --ca gm-certs/ca.crt https://127.0.0.1:8443/healthz
  duohuo gm client -v -i --ca ca.crt -X POST -d '{"a":1}' -H 'Content-Type: application/json' https://gw:8443/api
  duohuo gm client --ca ca.crt --suites ECDHE_SM4_GCM_SM3 --cert c-sign.crt --key c-sign.key --enc-cert c-enc.crt --enc-key c-enc.key https://gw:8443/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return usagef("URL %q: want https://HOST[:PORT]/PATH", args[0])
			}
			cfg := &tlcp.Config{ServerName: serverName, InsecureSkipVerify: insecure}
			if cfg.ServerName == "" {
				cfg.ServerName = u.Hostname()
			}
			if caFile == "" && !insecure {
				return usagef("--ca FILE is needed to verify the server (or --insecure)")
			}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return usagef("--ca: %v", err)
				}
				cfg.RootCAs = smx509.NewCertPool()
				if !cfg.RootCAs.AppendCertsFromPEM(pem) {
					return usagef("--ca %s: no PEM certificate", caFile)
				}
			}
			if (certFile == "") != (keyFile == "") || (encCertFile == "") != (encKeyFile == "") || encCertFile != "" && certFile == "" {
				return usagef("--cert needs --key, --enc-cert needs --enc-key, and --enc-cert needs --cert")
			}
			for _, pair := range [][2]string{{certFile, keyFile}, {encCertFile, encKeyFile}} {
				if pair[0] == "" {
					continue
				}
				c, err := tlcp.LoadX509KeyPair(pair[0], pair[1])
				if err != nil {
					return usagef("%v", err)
				}
				cfg.Certificates = append(cfg.Certificates, c)
			}
			if suites != "" {
				for _, name := range strings.Split(suites, ",") {
					id, ok := suiteID(strings.TrimSpace(name))
					if !ok {
						return usagef("--suites: unknown suite %q: want some of ECC_SM4_GCM_SM3, ECC_SM4_CBC_SM3, ECDHE_SM4_GCM_SM3, ECDHE_SM4_CBC_SM3", name)
					}
					cfg.CipherSuites = append(cfg.CipherSuites, id)
				}
			}
			var body io.Reader
			if data != "" {
				body = strings.NewReader(data)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
			if err != nil {
				return usagef("%v", err)
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return usagef("-H %q: want 'Name: value'", h)
				}
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			stderr := cmd.ErrOrStderr()
			dialer := &tlcp.Dialer{Config: cfg}
			tr := &http.Transport{
				DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := dialer.DialContext(ctx, network, addr)
					if err == nil && verbose {
						st := c.(*tlcp.Conn).ConnectionState()
						fmt.Fprintf(stderr, "* TLCP %#04x %s, resumed %v\n", st.Version, tlcp.CipherSuiteName(st.CipherSuite), st.DidResume)
						for i, pc := range st.PeerCertificates {
							fmt.Fprintf(stderr, "* certificate %d: %s (issuer %s, until %s)\n", i, pc.Subject, pc.Issuer.CommonName, pc.NotAfter.Format(time.DateOnly))
						}
					}
					return c, err
				},
				DisableKeepAlives: true,
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			out := cmd.OutOrStdout()
			if include {
				fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
				resp.Header.Write(out)
				fmt.Fprint(out, "\r\n")
			}
			_, err = io.Copy(out, resp.Body)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&caFile, "ca", "", "PEM file of the CA(s) that issued the server's certificates")
	f.StringVar(&certFile, "cert", "", "client signing certificate (PEM), sent when the server asks")
	f.StringVar(&keyFile, "key", "", "key of --cert")
	f.StringVar(&encCertFile, "enc-cert", "", "client encryption certificate (PEM), for the ECDHE suites")
	f.StringVar(&encKeyFile, "enc-key", "", "key of --enc-cert")
	f.StringVar(&serverName, "server-name", "", "name to verify the server's certificate against; default the URL's host")
	f.StringVar(&suites, "suites", "", "comma-separated TLCP suites to offer, in order; default all, GCM and ECC first")
	f.StringVarP(&method, "request", "X", http.MethodGet, "HTTP method")
	f.StringVarP(&data, "data", "d", "", "request body")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.BoolVar(&insecure, "insecure", false, "do not verify the server's certificates (tests only)")
	f.BoolVarP(&include, "include", "i", false, "print the status line and headers before the body")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the TLCP suite and the server's certificates on standard error")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "limit on the whole request")
	return cmd
}

func suiteID(name string) (uint16, bool) {
	for _, id := range tlcp.CipherSuites() {
		if tlcp.CipherSuiteName(id) == strings.ToUpper(name) {
			return id, true
		}
	}
	return 0, false
}
