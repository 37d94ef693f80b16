// Package tlcp implements TLCP, the Transport Layer Cryptography Protocol of
// GB/T 38636-2020 (version 0x0101, also GM/T 0024-2014's "GMSSL"), with an
// API shaped like crypto/tls: [Config], [Server], [Client], [Listen],
// [Dial], and a [Conn] with Handshake, Read, Write, Close, deadlines and
// [Conn.ConnectionState].
//
// Suites: ECC_SM4_GCM_SM3 (0xe053), ECC_SM4_CBC_SM3 (0xe013),
// ECDHE_SM4_GCM_SM3 (0xe051) and ECDHE_SM4_CBC_SM3 (0xe011). A server holds
// two SM2 certificates, a signing one and an encryption one (the "double
// certificate"); ECC suites encrypt the pre-master secret to the encryption
// certificate, ECDHE suites run the SM2 key exchange between both sides'
// encryption keys and need the client's encryption certificate too, so a
// server only picks them when it asks for client certificates.
// Certificates are verified with smx509 against the CA pools of the Config;
// never against the system's roots. Sessions resume by session ID; ALPN and
// server_name are sent as Hello extensions. Renegotiation is refused.
//
// Usage:
//
//	sign, _ := tlcp.LoadX509KeyPair("sign.crt", "sign.key")
//	enc, _ := tlcp.LoadX509KeyPair("enc.crt", "enc.key")
//	ln, err := tlcp.Listen("tcp", ":443", &tlcp.Config{Certificates: []tlcp.Certificate{sign, enc}})
//
//	conn, err := tlcp.Dial("tcp", "gw.example:443", &tlcp.Config{RootCAs: pool})
//
// The cryptography is github.com/emmansun/gmsm (SM2, SM3, SM4). This is a
// pure-Go stack without a commercial-cryptography product certificate
// (GM/T 0028); see docs/gm.md for what that means for an assessment.
package tlcp
