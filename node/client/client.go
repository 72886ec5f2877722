// Package client talks to an Entente node's API the way an integrator should: it pins the
// node's TLS key, verifies the detached JWS on every response against a pinned key set
// before it looks at the body, and refuses data whose signature does not verify.
//
// On top of single requests (Do, JSON) it follows the alert feed with automatic
// resumption (FollowAlerts by pages, StreamAlerts over Server-Sent Events, each event
// verified on its own), checks a federation alert's originator signature against the
// roster (VerifyAlertOrigin, RosterKeys), and checks webhook deliveries (VerifyDelivery).
// examples/integrator is a whole integrator built on it.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/api"
)

// SignatureHeader is the response header carrying the detached JWS.
const SignatureHeader = "X-JWS-Signature"

// maxResponse bounds what the client reads from one response.
const maxResponse = 64 << 20

// ErrUnsigned means a response had no signature or one that does not verify against the
// pinned keys; its body is not returned.
var ErrUnsigned = errors.New("client: response signature missing or invalid")

// ErrPinMismatch means the server's TLS key is not the pinned one: it is not the node, and
// nothing was sent to it beyond the handshake.
var ErrPinMismatch = errors.New("client: the node's certificate does not match the pinned key")

// Options configure a Client.
type Options struct {
	// Token is the bearer token sent with every request.
	Token string
	// TLSPin is the node's certificate pin ("sha256:" + base64 SHA-256 of its public key),
	// as printed on its member card. Empty means the system roots verify the certificate.
	TLSPin string
	// Keys are the node's signing keys (its JWKS). When nil, signatures are not checked:
	// only for bootstrapping, such as fetching the JWKS to pin it.
	Keys *jws.KeySet
	// RefreshKeys, when set, is called once when a response is signed with a key id that
	// Keys does not hold (the node rotated its key), and its answer replaces Keys. Set it
	// only when the answer comes from a trusted place, such as the node's own data
	// directory; fetching the JWKS from the same node would defeat the pin.
	RefreshKeys func() (*jws.KeySet, error)
	// UnixSocket, when set, dials this socket instead of the URL's host (the admin socket).
	UnixSocket string
	// Timeout bounds each request (but not a stream, see StreamAlerts); zero means 30
	// seconds.
	Timeout time.Duration
}

// Client calls one node.
type Client struct {
	base string
	o    Options
	http *http.Client
	// stream shares http's connections but has no overall timeout, which would cut a
	// stream that is working; StreamAlerts watches for silence instead.
	stream *http.Client

	mu   sync.Mutex
	keys *jws.KeySet
}

// APIError is an error response from the node.
type APIError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	s += ": " + e.Message
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// New returns a client for the node at baseURL (https://host:port).
func New(baseURL string, o Options) (*Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	// HTTP/1.1 with keep-alive: for many small signed responses it costs less CPU on
	// both ends than HTTP/2's per-stream machinery, and the node serves both.
	tr := &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	if o.UnixSocket != "" {
		sock := o.UnixSocket
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	}
	if o.TLSPin != "" {
		want, err := parsePin(o.TLSPin)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The node's certificate is self-signed; the pin replaces chain validation.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("client: the node sent no certificate")
				}
				got := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
				if !bytes.Equal(got[:], want) {
					return ErrPinMismatch
				}
				return nil
			},
		}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), o: o, keys: o.Keys,
		http: &http.Client{Transport: tr, Timeout: o.Timeout}, stream: &http.Client{Transport: tr}}, nil
}

// Pin computes the pin of a certificate, in the member card's format.
func Pin(cert *x509.Certificate) string { return identity.Pin(cert) }

func parsePin(p string) ([]byte, error) {
	b64, ok := strings.CutPrefix(p, "sha256:")
	if !ok {
		return nil, fmt.Errorf("client: TLS pin %q must start with \"sha256:\"", p)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("client: TLS pin %q is not a base64 SHA-256 hash", p)
	}
	return b, nil
}

// Response is a verified response.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Signature string
	KID       string
}

// Do sends a request with an optional JSON body (a []byte is sent as is) and returns the
// verified response: signed in the X-JWS-Signature header, or, for a streamed answer, in
// the trailer of that name. A non-2xx status is returned as an *APIError, after verification.
func (c *Client) Do(ctx context.Context, method, path string, body any, hdr http.Header) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return c.read(method, path, resp)
}

// read reads a response to its end (bounded), verifies its signature when keys are
// pinned, and turns a non-2xx status into an *APIError.
func (c *Client) read(method, path string, resp *http.Response) (*Response, error) {
	if resp.ContentLength > maxResponse {
		return nil, fmt.Errorf("client: response of %d bytes is larger than %d", resp.ContentLength, maxResponse)
	}
	data, err := readBody(resp)
	if err != nil {
		return nil, err
	}
	if len(data) > maxResponse {
		return nil, fmt.Errorf("client: response larger than %d bytes", maxResponse)
	}
	sig := resp.Header.Get(SignatureHeader)
	if sig == "" {
		// A streamed answer (NDJSON: POST /v1/screen/batch) signs the bytes it sent in a
		// trailer, known only now that the body has been read to its end. It is checked
		// exactly as a header signature is.
		sig = resp.Trailer.Get(SignatureHeader)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, Signature: sig}
	if c.o.Keys != nil {
		kid, err := c.verify(data, out.Signature)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrUnsigned, method, path, err)
		}
		out.KID = kid
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error APIError `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return out, &eb.Error
		}
		return out, &APIError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(data))}
	}
	return out, nil
}

// readBody reads a response body of at most maxResponse+1 bytes (the caller refuses
// more), in one allocation when the length is announced: the node always announces it,
// since it signs the whole body before sending it.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength < 0 {
		return io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	}
	// One byte more than announced, to see the end without a second read.
	data := make([]byte, 0, resp.ContentLength+1)
	for {
		n, err := resp.Body.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
		if len(data) == cap(data) { // longer than announced: net/http would have refused
			rest, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1-int64(len(data))))
			return append(data, rest...), err
		}
	}
}

// verify checks a detached signature, refreshing the key set once on an unknown key id.
func (c *Client) verify(body []byte, sig string) (string, error) {
	c.mu.Lock()
	keys := c.keys
	c.mu.Unlock()
	kid, err := jws.VerifyDetached(keys, body, sig)
	if err == nil || c.o.RefreshKeys == nil || !errors.Is(err, jws.ErrUnknownKey) {
		return kid, err
	}
	fresh, rerr := c.o.RefreshKeys()
	if rerr != nil {
		return "", fmt.Errorf("%v (refreshing the keys failed: %v)", err, rerr)
	}
	c.mu.Lock()
	c.keys = fresh
	c.mu.Unlock()
	return jws.VerifyDetached(fresh, body, sig)
}

// JSON sends a request and decodes the verified 2xx body into out. A page of the alert
// feed (out a *api.AlertPage) is decoded by a reader made for it, several times faster
// than encoding/json and with the same result, into a fresh page.
func (c *Client) JSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Do(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	switch out := out.(type) {
	case nil:
		return nil
	case *api.AlertPage:
		_, err := decodeAlertPage(resp.Body, out)
		return err
	default:
		return json.Unmarshal(resp.Body, out)
	}
}

// CloseIdle closes idle connections.
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }
