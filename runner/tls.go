package runner

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// LoadCAs reads PEM files of certificate authorities (--ca-cert).
func LoadCAs(files []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert %s: %w", f, err)
		}
		n := 0
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--ca-cert %s: %w", f, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in it (want -----BEGIN CERTIFICATE-----)", f)
		}
	}
	return out, nil
}

// SPKIHash is the base64 SHA-256 of a certificate's public key, the form
// Chrome's --ignore-certificate-errors-spki-list takes.
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Dial connects to a URL's host and port the way the browser will: through
// the --resolve mapping when one names the host.
func Dial(ctx context.Context, target string, resolve map[string]string, timeout time.Duration) (net.Conn, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if addr, ok := resolve[strings.ToLower(host)]; ok {
		host = addr
	}
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
}

// TrustChain verifies the certificate chain an https target presents
// against the system's roots and the given CAs, the way a browser that
// trusts those CAs would, and returns the public-key hashes Chrome must
// accept for that chain (the served certificates and the CAs). A chain that
// does not verify is an error that says why and what to pass.
func TrustChain(ctx context.Context, target string, cas []*x509.Certificate, resolve map[string]string) ([]string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" {
		return nil, nil
	}
	conn, err := Dial(ctx, target, resolve, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, c := range cas {
		roots.AddCert(c)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.HandshakeContext(ctx); err != nil {
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		switch {
		case errors.As(err, &unknown):
			return nil, fmt.Errorf("the certificate of %s is not signed by a trusted authority (%v): pass the CA with --ca-cert FILE, or --insecure", u.Host, err)
		case errors.As(err, &host):
			return nil, fmt.Errorf("the certificate of %s is not valid for %s (%v): fix the certificate, or pass --insecure", u.Host, u.Hostname(), err)
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", u.Host, err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(c *x509.Certificate) {
		if h := SPKIHash(c); !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	for _, c := range tc.ConnectionState().PeerCertificates {
		add(c)
	}
	for _, c := range cas {
		add(c)
	}
	return out, nil
}
