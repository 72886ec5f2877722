package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/node/config"
	"github.com/entente/entente/policy"
)

// operatorOffline is the principal of administrative commands run on a stopped node's
// data directory: whoever can open the directory is its operator.
var operatorOffline = access.Principal{TokenID: "offline-cli", Subject: "operator (offline CLI)", Role: policy.RoleOperator}

// readKeySet reads the node's public JWKS from its data directory.
func readKeySet(dataDir string) (*jws.KeySet, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "keys", "jwks.json"))
	if err != nil {
		return nil, fmt.Errorf("read the node's JWKS: %w (is %s a node data directory? entente init creates one)", err, dataDir)
	}
	return jws.ParseKeySet(b)
}

// adminClient returns a client on the running node's admin socket, or nil when no node is
// serving from dataDir.
func adminClient(dataDir string) (*client.Client, error) {
	sock := filepath.Join(dataDir, node.AdminSocket)
	if _, err := os.Stat(sock); err != nil {
		return nil, nil
	}
	keys, err := readKeySet(dataDir)
	if err != nil {
		return nil, err
	}
	c, err := client.New("http://admin", client.Options{UnixSocket: sock, Keys: keys, Timeout: 10 * time.Second,
		RefreshKeys: func() (*jws.KeySet, error) { return readKeySet(dataDir) }})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Do(ctx, "GET", "/healthz", nil, nil); err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) {
			return c, nil
		}
		return nil, nil // a socket left behind by a stopped node
	}
	return c, nil
}

// openOffline opens a stopped node's data directory for an administrative command.
func openOffline(e *env, dataDir string) (*node.Node, error) {
	fs := flag.NewFlagSet("offline", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, []string{"--data", dataDir}, e.getenv)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return node.Open(cfg, log, node.Options{})
}

// apiFlags are the flags of commands that call a node's API as a token holder.
type apiFlags struct {
	data, url, token, pin, jwks string
}

func addAPIFlags(e *env, fs *flag.FlagSet) *apiFlags {
	a := &apiFlags{}
	fs.StringVar(&a.data, "data", e.getenv("ENTENTE_DATA"), "a local node's data directory: supplies --node, --pin and --jwks (env ENTENTE_DATA)")
	fs.StringVar(&a.url, "node", e.getenv("ENTENTE_NODE"), "the node's API URL, for example https://127.0.0.1:8443 (env ENTENTE_NODE)")
	fs.StringVar(&a.token, "token", "", "bearer token (default: env ENTENTE_TOKEN)")
	fs.StringVar(&a.pin, "pin", e.getenv("ENTENTE_PIN"), "the node's TLS pin from its member card (env ENTENTE_PIN)")
	fs.StringVar(&a.jwks, "jwks", e.getenv("ENTENTE_JWKS"), "file with the node's JWKS; every response is verified against it (env ENTENTE_JWKS)")
	return a
}

// client builds a verifying API client from the flags.
func (a *apiFlags) client(e *env) (*client.Client, error) {
	token := a.token
	if token == "" {
		token = e.getenv("ENTENTE_TOKEN")
	}
	if token == "" {
		return nil, fmt.Errorf("%w: no token: pass --token or set ENTENTE_TOKEN (entente token issue makes one)", errUsage)
	}
	o := client.Options{Token: token, TLSPin: a.pin}
	url := a.url
	if a.data != "" {
		keys, err := readKeySet(a.data)
		if err != nil {
			return nil, err
		}
		o.Keys = keys
		dir := a.data
		o.RefreshKeys = func() (*jws.KeySet, error) { return readKeySet(dir) }
		if o.TLSPin == "" {
			b, err := os.ReadFile(filepath.Join(a.data, "member.card.json"))
			if err != nil {
				return nil, fmt.Errorf("read the member card: %w", err)
			}
			card, err := identity.ParseCard(b)
			if err != nil {
				return nil, err
			}
			o.TLSPin = card.TLSPin
		}
		if url == "" {
			b, err := os.ReadFile(filepath.Join(a.data, node.RuntimeFile))
			if err != nil {
				return nil, fmt.Errorf("no running node found in %s (%v); start it with entente serve, or pass --node", a.data, err)
			}
			var rt node.Runtime
			if err := json.Unmarshal(b, &rt); err != nil {
				return nil, fmt.Errorf("read %s: %w", node.RuntimeFile, err)
			}
			url = rt.APIURL
		}
	}
	if a.jwks != "" {
		b, err := os.ReadFile(a.jwks)
		if err != nil {
			return nil, err
		}
		if o.Keys, err = jws.ParseKeySet(b); err != nil {
			return nil, fmt.Errorf("--jwks %s: %w", a.jwks, err)
		}
	}
	if url == "" {
		return nil, fmt.Errorf("%w: name the node with --node URL or --data DIR", errUsage)
	}
	if o.Keys == nil {
		return nil, fmt.Errorf("%w: responses must be verified: pass --jwks FILE (the node's /.well-known/jwks.json, obtained out of band) or --data DIR", errUsage)
	}
	return client.New(url, o)
}

func printJSON(w io.Writer, b []byte) {
	var v any
	if json.Unmarshal(b, &v) == nil {
		if out, err := json.MarshalIndent(v, "", "  "); err == nil {
			fmt.Fprintln(w, string(out))
			return
		}
	}
	fmt.Fprintln(w, string(b))
}
