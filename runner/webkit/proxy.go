package webkit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// wkProxy is the loopback proxy a WebKit browser is pointed at (its
// --proxy). It never dials anything for itself: it serves the synthetic
// origin pages (every host's /__corscheck__/ paths) from memory, and
// relays to the target only the requests of probes (their URL carries a
// token) and the redirects those answers name, byte for byte, recording
// each exchange as it crossed the wire. WebKit's inspector does not show
// preflights (the network process sends them); the relay does.
//
// https is terminated here with a certificate minted for the host (the
// session accepts it, acceptInsecureCerts) and the target's own
// certificate is verified by the relay the way the browser would: against
// the system's roots and --ca-cert, or not at all with --insecure.
type wkProxy struct {
	ln    net.Listener
	wire  *wkWire
	opts  runner.Options
	roots *x509.CertPool

	key   *ecdsa.PrivateKey
	mu    sync.Mutex
	certs map[string]*tls.Certificate
	conns map[net.Conn]bool
	// cookies are the Set-Cookie lines /__corscheck__/cookies answers,
	// by host (the page setup's cookies, set first-party).
	cookies map[string][]string
	closed  bool
}

// wkPrefix starts every path the proxy answers itself.
const wkPrefix = "/__corscheck__/"

// wkPageHTML is the origin page: corscheck's page plus the mark every
// repeated fetch of a probe sends first (a same-origin request the proxy
// answers), so the relay knows which fetch of a probe each wire exchange
// belongs to. The icon link keeps the browser from asking for /favicon.ico.
const wkPageHTML = `<!doctype html><meta charset=utf-8><link rel=icon href="data:,"><title>corscheck origin page</title>` +
	`<script>self.__corscheckMark = (u, k) => fetch("` + wkPrefix + `mark?k=" + k + "&u=" + encodeURIComponent(u), {mode: "no-cors", cache: "no-store", credentials: "omit"}).then(() => {}, () => {});</script>`

func newWKProxy(o runner.Options, wire *wkWire) (*wkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy for WebKit: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ln.Close()
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	cas, err := runner.LoadCAs(o.CACerts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	for _, c := range cas {
		roots.AddCert(c)
	}
	p := &wkProxy{ln: ln, wire: wire, opts: o, roots: roots, key: key, certs: map[string]*tls.Certificate{}, conns: map[net.Conn]bool{}, cookies: map[string][]string{}}
	go p.serve()
	return p, nil
}

// URL is the proxy's address for the browser's --proxy.
func (p *wkProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *wkProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		go func() {
			defer p.track(c, false)
			defer c.Close()
			p.handle(c)
		}()
	}
}

func (p *wkProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

// Close stops the proxy and every connection through it.
func (p *wkProxy) Close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	p.ln.Close()
	for c := range conns {
		c.Close()
	}
}

// setCookies makes /__corscheck__/cookies on each cookie's host answer
// with its Set-Cookie line.
func (p *wkProxy) setCookies(cs []runner.CookieSpec) {
	m := map[string][]string{}
	for _, c := range cs {
		host := cookieHost(c)
		m[host] = append(m[host], setCookieLine(c, false))
	}
	p.mu.Lock()
	p.cookies = m
	p.mu.Unlock()
}

// clearCookies makes /__corscheck__/cookies expire the given cookies.
func (p *wkProxy) clearCookies(cs []runner.CookieSpec) {
	m := map[string][]string{}
	for _, c := range cs {
		host := cookieHost(c)
		m[host] = append(m[host], setCookieLine(c, true))
	}
	p.mu.Lock()
	p.cookies = m
	p.mu.Unlock()
}

func cookieHost(c runner.CookieSpec) string {
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
		return strings.ToLower(u.Host)
	}
	return strings.ToLower(strings.TrimPrefix(c.Domain, "."))
}

// cookieSetupURL is the first-party page on a cookie's site that sets it.
func cookieSetupURL(c runner.CookieSpec) string {
	scheme := "https"
	if u, err := url.Parse(c.URL); err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	return scheme + "://" + cookieHost(c) + wkPrefix + "cookies"
}

func setCookieLine(c runner.CookieSpec, expire bool) string {
	var b strings.Builder
	b.WriteString(c.Name + "=")
	if !expire {
		b.WriteString(c.Value)
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	b.WriteString("; Path=" + path)
	if c.Domain != "" {
		b.WriteString("; Domain=" + c.Domain)
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.SameSite != "" {
		b.WriteString("; SameSite=" + c.SameSite)
	}
	if expire {
		b.WriteString("; Max-Age=0")
	}
	return b.String()
}

// handle serves one connection from the browser: a CONNECT (then TLS, and
// origin-form requests inside it) or absolute-form http requests.
func (p *wkProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	head, err := readHead(br)
	if err != nil {
		return
	}
	method, target, _ := strings.Cut(firstLine(head), " ")
	target, _, _ = strings.Cut(target, " ")
	if method != "CONNECT" {
		p.loop(c, br, head, "http", "")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return
	}
	cert, err := p.certFor(host)
	if err != nil {
		return
	}
	tc := tls.Server(&bufferedConn{Conn: c, r: br}, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		return
	}
	tbr := bufio.NewReader(tc)
	head, err = readHead(tbr)
	if err != nil {
		return
	}
	p.loop(tc, tbr, head, "https", target)
}

// bufferedConn is a connection whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// wkRequest is one request from the browser, read whole.
type wkRequest struct {
	head    []byte // as received
	method  string
	url     string // absolute
	path    string // origin-form
	host    string // host:port
	headers []headerLine
	body    []byte
}

type headerLine struct{ name, value string }

// maxRequestBody bounds a request body the relay holds (fetch bodies of
// probes are small).
const maxRequestBody = 8 << 20

// loop reads requests from the browser on one connection and answers each
// in turn: a request the reader goroutine has read whole, so that the
// browser closing the connection (an aborted fetch) ends the relay's wait
// for the target too.
func (p *wkProxy) loop(c net.Conn, br *bufio.Reader, first []byte, scheme, connectHost string) {
	reqs := make(chan *wkRequest)
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		head := first
		for {
			r, err := parseWKRequest(head, br, scheme, connectHost)
			if err != nil {
				return
			}
			reqs <- r
			if head, err = readHead(br); err != nil {
				return
			}
		}
	}()
	up := &upstream{p: p}
	defer up.close()
	for {
		var r *wkRequest
		select {
		case r = <-reqs:
		case <-gone:
			return
		}
		stop := context.AfterFunc(goneCtx(gone), up.close)
		keep := p.answer(c, r, up)
		stop()
		if !keep {
			return
		}
	}
}

// goneCtx is a context that ends when gone closes.
func goneCtx(gone <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-gone
		cancel()
	}()
	return ctx
}

func parseWKRequest(head []byte, br *bufio.Reader, scheme, connectHost string) (*wkRequest, error) {
	line := firstLine(head)
	parts := strings.SplitN(line, " ", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	r := &wkRequest{method: parts[0], headers: headerLines(head)}
	target := parts[1]
	if scheme == "http" {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("bad proxy request %q", target)
		}
		r.host, r.url = u.Host, target
		r.path = u.RequestURI()
		// The target sees origin-form, as without a proxy; the proxy's
		// own header goes.
		head = rewriteHead(head, parts[0]+" "+r.path+" "+parts[2], "proxy-connection")
	} else {
		r.host, r.path = connectHost, target
		if h := header(r.headers, "host"); h != "" {
			r.host = h
		}
		r.url = "https://" + r.host + target
	}
	r.url = canonicalURL(r.url)
	r.head = head
	body, err := readBody(br, r.headers)
	if err != nil {
		return nil, err
	}
	r.body = body
	return r, nil
}

// canonicalURL drops a default port, as the browser's URLs do.
func canonicalURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Scheme == "https" && u.Port() == "443" || u.Scheme == "http" && u.Port() == "80" {
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]"
		}
	}
	return u.String()
}

// answer answers one request: a page of ours, a relayed probe request, or
// a refusal. It reports whether the connection stays open.
func (p *wkProxy) answer(c net.Conn, r *wkRequest, up *upstream) bool {
	u, err := url.Parse(r.url)
	if err != nil {
		return false
	}
	if strings.HasPrefix(u.Path, wkPrefix) {
		return p.servePage(c, r, u)
	}
	x := p.wire.begin(r)
	if x == nil {
		// Not a probe's request nor a redirect a probe's answer named:
		// nothing the user did not ask for reaches the target.
		writeSimple(c, 404, "text/plain", nil, "corscheck: not a probe request")
		return true
	}
	return p.relay(c, r, up, x)
}

func (p *wkProxy) servePage(c net.Conn, r *wkRequest, u *url.URL) bool {
	switch strings.TrimPrefix(u.Path, wkPrefix) {
	case "page.html":
		var extra []string
		if u.Host == strings.TrimPrefix(core.OpaqueHost, "https://") {
			extra = append(extra, "Content-Security-Policy: sandbox allow-scripts")
		}
		writeSimple(c, 200, "text/html; charset=utf-8", extra, wkPageHTML)
	case "mark":
		k, _ := strconv.Atoi(u.Query().Get("k"))
		p.wire.mark(u.Query().Get("u"), k)
		writeSimple(c, 204, "", []string{"Access-Control-Allow-Origin: *"}, "")
	case "cookies":
		p.mu.Lock()
		lines := p.cookies[strings.ToLower(u.Host)]
		p.mu.Unlock()
		var extra []string
		for _, l := range lines {
			extra = append(extra, "Set-Cookie: "+l)
		}
		writeSimple(c, 200, "text/html; charset=utf-8", extra, `<!doctype html><meta charset=utf-8><link rel=icon href="data:,"><title>corscheck sign-in</title>`)
	default:
		writeSimple(c, 404, "text/plain", nil, "")
	}
	return true
}

func writeSimple(c net.Conn, status int, ctype string, extra []string, body string) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nCache-Control: no-store\r\nContent-Length: %d\r\n", status, http.StatusText(status), len(body))
	if ctype != "" {
		b.WriteString("Content-Type: " + ctype + "\r\n")
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	io.WriteString(c, b.String())
}

// upstream is the relay's connection to the target for one browser
// connection, kept open between requests to the same host.
type upstream struct {
	p    *wkProxy
	mu   sync.Mutex
	host string
	conn net.Conn
	br   *bufio.Reader
}

func (u *upstream) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		u.conn.Close()
		u.conn, u.br, u.host = nil, nil, ""
	}
}

// get returns a connection to host (scheme https: TLS verified as the
// browser would), reusing the open one.
func (u *upstream) get(scheme, host string) (c net.Conn, br *bufio.Reader, reused bool, err error) {
	u.mu.Lock()
	if u.conn != nil && u.host == scheme+"://"+host {
		c, br := u.conn, u.br
		u.mu.Unlock()
		return c, br, true, nil
	}
	if u.conn != nil {
		u.conn.Close()
		u.conn = nil
	}
	u.mu.Unlock()
	c, err = u.p.dial(scheme, host)
	if err != nil {
		return nil, nil, false, err
	}
	u.mu.Lock()
	u.conn, u.br, u.host = c, bufio.NewReader(c), scheme+"://"+host
	br = u.br
	u.mu.Unlock()
	return c, br, false, nil
}

// dialError is why the relay could not reach the target: what the browser
// would have met connecting itself.
type dialError struct {
	kind scenarios.ErrorKind
	msg  string
}

func (e *dialError) Error() string { return e.msg }

// dial connects to the target the way the browser would have: --resolve
// first, nothing but loopback and the allowed hosts with LoopbackOnly.
func (p *wkProxy) dial(scheme, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, map[string]string{"http": "80", "https": "443"}[scheme]
	}
	name := strings.ToLower(strings.Trim(host, "[]"))
	addr := name
	if a, ok := p.opts.Resolve[name]; ok {
		addr = a
	} else if net.ParseIP(name) == nil && p.opts.LoopbackOnly && !p.allowed(name) {
		return nil, &dialError{scenarios.ErrorDNS, "name not resolved: " + name + " (corscheck keeps this run on loopback; map it with --resolve " + name + ":127.0.0.1)"}
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort(addr, port))
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return nil, &dialError{scenarios.ErrorDNS, "name not resolved: " + err.Error()}
		}
		return nil, &dialError{scenarios.ErrorNetwork, "connection failed: " + err.Error()}
	}
	if p.opts.LoopbackOnly {
		if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && !ra.IP.IsLoopback() && !p.allowed(name) {
			c.Close()
			return nil, &dialError{scenarios.ErrorDNS, "refused: " + name + " is not on loopback"}
		}
	}
	if scheme != "https" {
		return c, nil
	}
	cfg := &tls.Config{RootCAs: p.roots, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: p.opts.Insecure}
	// A name is checked against the certificate's DNS names, an IP
	// literal against its IP addresses.
	cfg.ServerName = name
	tc := tls.Client(c, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, &dialError{scenarios.ErrorTLS, "TLS: the certificate of " + hostport + " was refused: " + err.Error()}
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

func (p *wkProxy) allowed(name string) bool {
	if name == "localhost" || strings.HasSuffix(name, ".localhost") || core.LoopbackLiteral(name) {
		return true
	}
	for _, h := range p.opts.AllowHosts {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// relay sends a probe's request to the target and its answer back, byte
// for byte, recording both. It reports whether the browser connection
// stays open.
func (p *wkProxy) relay(c net.Conn, r *wkRequest, up *upstream, x *wireExchange) bool {
	scheme := "http"
	if strings.HasPrefix(r.url, "https://") {
		scheme = "https"
	}
	for attempt := 0; ; attempt++ {
		uc, ubr, reused, err := up.get(scheme, r.host)
		if err != nil {
			var de *dialError
			if errors.As(err, &de) {
				p.wire.fail(x, de.kind, de.msg)
			} else {
				p.wire.fail(x, scenarios.ErrorNetwork, err.Error())
			}
			return false // the browser sees the connection fail
		}
		if _, err := uc.Write(append(append([]byte{}, r.head...), r.body...)); err != nil {
			up.close()
			if attempt == 0 && reused {
				continue // a kept connection the target had closed
			}
			p.wire.fail(x, scenarios.ErrorNetwork, "connection to the target failed: "+err.Error())
			return false
		}
		keep, sent, err := p.relayResponse(c, ubr, r, x)
		if err != nil && !sent && attempt == 0 && reused {
			up.close()
			continue
		}
		if err != nil {
			up.close()
			if !sent {
				p.wire.fail(x, scenarios.ErrorNetwork, "the target closed the connection without an answer: "+err.Error())
			} else {
				p.wire.finish(x)
			}
			return false
		}
		p.wire.finish(x)
		if !keep {
			up.close()
		}
		return keep
	}
}

// relayResponse copies the target's answer (interim 1xx answers included)
// to the browser. sent reports whether any byte of it reached the browser.
func (p *wkProxy) relayResponse(c net.Conn, ubr *bufio.Reader, r *wkRequest, x *wireExchange) (keep, sent bool, err error) {
	for {
		head, err := readHead(ubr)
		if err != nil {
			return false, sent, err
		}
		status, headers := parseStatus(head)
		if _, err := c.Write(head); err != nil {
			return false, true, err
		}
		sent = true
		if status >= 100 && status < 200 && status != 101 {
			continue
		}
		p.wire.respond(x, status, headers)
		noBody := r.method == "HEAD" || status == 204 || status == 304 || status == 101
		if noBody {
			return !closes(headers), true, nil
		}
		if err := copyBody(c, ubr, headers); err != nil {
			return false, true, err
		}
		_, hasLen := lookupHeader(headers, "content-length")
		chunked := strings.Contains(strings.ToLower(header(headers, "transfer-encoding")), "chunked")
		return !closes(headers) && (hasLen || chunked), true, nil
	}
}

func closes(h []headerLine) bool {
	return strings.EqualFold(strings.TrimSpace(header(h, "connection")), "close")
}

// readHead reads a message's start line and header lines, through the
// blank line, as received.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		head = append(head, line...)
		if len(head) > 1<<20 {
			return nil, errors.New("message head over 1 MiB")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(head) > len(line) && (string(line) == "\r\n" || string(line) == "\n") {
			return head, nil
		}
		if len(head) == len(line) && strings.TrimSpace(string(line)) == "" {
			head = head[:0] // stray blank lines before a request
		}
	}
}

func firstLine(head []byte) string {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	return strings.TrimRight(string(line), "\r")
}

func headerLines(head []byte) []headerLine {
	var out []headerLine
	lines := strings.Split(strings.TrimRight(string(head), "\r\n"), "\n")
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		out = append(out, headerLine{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return out
}

// rewriteHead replaces the start line and drops the named header.
func rewriteHead(head []byte, start, drop string) []byte {
	lines := strings.SplitAfter(string(head), "\n")
	var b strings.Builder
	b.WriteString(start + "\r\n")
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		if strings.EqualFold(strings.TrimSpace(name), drop) {
			continue
		}
		b.WriteString(l)
	}
	return []byte(b.String())
}

func parseStatus(head []byte) (int, []headerLine) {
	parts := strings.SplitN(firstLine(head), " ", 3)
	status := 0
	if len(parts) >= 2 {
		status, _ = strconv.Atoi(parts[1])
	}
	return status, headerLines(head)
}

func header(h []headerLine, name string) string {
	v, _ := lookupHeader(h, name)
	return v
}

func lookupHeader(h []headerLine, name string) (string, bool) {
	for _, l := range h {
		if strings.EqualFold(l.name, name) {
			return l.value, true
		}
	}
	return "", false
}

// headerMapOf joins repeated header lines with a newline, as the other
// engines' raw headers do.
func headerMapOf(h []headerLine) map[string]string {
	out := make(map[string]string, len(h))
	for _, l := range h {
		k := strings.ToLower(l.name)
		if old, ok := out[k]; ok {
			out[k] = old + "\n" + l.value
		} else {
			out[k] = l.value
		}
	}
	return out
}

// readBody reads a request body whole (bounded).
func readBody(br *bufio.Reader, h []headerLine) ([]byte, error) {
	var b bytes.Buffer
	if strings.Contains(strings.ToLower(header(h, "transfer-encoding")), "chunked") {
		if err := copyChunked(&limitedWriter{&b, maxRequestBody}, br); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	if v, ok := lookupHeader(h, "content-length"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 || n > maxRequestBody {
			return nil, fmt.Errorf("content-length %q", v)
		}
		if _, err := io.CopyN(&b, br, n); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errors.New("request body too large")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// copyBody copies a response body as framed: chunked, a length, or up to
// the end of the connection.
func copyBody(dst io.Writer, br *bufio.Reader, h []headerLine) error {
	if strings.Contains(strings.ToLower(header(h, "transfer-encoding")), "chunked") {
		return copyChunked(dst, br)
	}
	if v, ok := lookupHeader(h, "content-length"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(strings.Split(v, ",")[0]), 10, 64)
		if err != nil || n < 0 {
			_, err := io.Copy(dst, br)
			return err
		}
		_, err = io.CopyN(dst, br, n)
		return err
	}
	_, err := io.Copy(dst, br)
	return err
}

// copyChunked copies a chunked body, framing included.
func copyChunked(dst io.Writer, br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if _, err := io.WriteString(dst, line); err != nil {
			return err
		}
		sizeText, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		size, err := strconv.ParseInt(sizeText, 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for {
				t, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				if _, err := io.WriteString(dst, t); err != nil {
					return err
				}
				if strings.TrimSpace(t) == "" {
					return nil
				}
			}
		}
		if _, err := io.CopyN(dst, br, size+2); err != nil {
			return err
		}
	}
}

// certFor mints (once) a certificate for a host, signed by the proxy's own
// key: the browser session accepts it; the target's real certificate is
// checked by the relay.
func (p *wkProxy) certFor(host string) (*tls.Certificate, error) {
	host = strings.Trim(host, "[]")
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.certs[host]; ok {
		return c, nil
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"corscheck origin pages"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: p.key}
	p.certs[host] = c
	return c, nil
}
