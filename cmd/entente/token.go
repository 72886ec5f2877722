package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/entente/entente/node/api"
)

// runToken administers client tokens. With a node serving from the data directory it
// goes through the admin socket, so a revocation takes effect on the very next request;
// with the node stopped it writes to the node database directly.
func runToken(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: token needs a verb: issue, revoke or list", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "issue":
		fs := newFlags(e, "token issue", "token issue --data DIR --role officer|analyst|steering|integrator|auditor|operator [--ttl 24h] [--subject NAME]")
		data := fs.String("data", "./entente-data", "the node's data directory")
		role := fs.String("role", "", "what the token may do: officer, analyst, steering, integrator, auditor or operator (required)")
		ttl := fs.String("ttl", "24h", "how long the token is valid (for example 8h, 30d)")
		subject := fs.String("subject", "", "who holds the token, kept in the audit trail (default: the role)")
		rationale := fs.String("rationale", "", "why the token is issued, kept in the audit trail")
		asJSON := fs.Bool("json", false, "print the token and its record as JSON instead of the bare token")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if *role == "" {
			return fmt.Errorf("%w: --role is required", errUsage)
		}
		req := api.TokenRequest{Subject: *subject, Role: *role, TTL: *ttl, Rationale: *rationale}
		var out api.TokenResponse
		if c, err := adminClient(*data); err != nil {
			return err
		} else if c != nil {
			if err := c.JSON(context.Background(), "POST", "/v1/tokens", req, &out); err != nil {
				return err
			}
		} else {
			n, err := openOffline(e, *data)
			if err != nil {
				return err
			}
			defer n.Close()
			if out.Token, out.Info, err = n.IssueToken(operatorOffline, req); err != nil {
				return err
			}
		}
		if *asJSON {
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintln(e.stdout, string(b))
			return nil
		}
		fmt.Fprintf(e.stderr, "issued %s for %q, role %s, valid until %s\n", out.Info.ID, out.Info.Subject, out.Info.Role, out.Info.Expiry.Format(time.RFC3339))
		fmt.Fprintln(e.stdout, out.Token)
		return nil
	case "revoke":
		fs := newFlags(e, "token revoke", "token revoke --data DIR [--rationale TEXT] TOKEN_ID")
		data := fs.String("data", "./entente-data", "the node's data directory")
		rationale := fs.String("rationale", "", "why the token is revoked, kept in the audit trail")
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: name exactly one token id (entente token list shows them)", errUsage)
		}
		id := fs.Arg(0)
		if c, err := adminClient(*data); err != nil {
			return err
		} else if c != nil {
			if err := c.JSON(context.Background(), "POST", "/v1/tokens/"+id+"/revoke", api.RevokeRequest{Rationale: *rationale}, nil); err != nil {
				return err
			}
		} else {
			n, err := openOffline(e, *data)
			if err != nil {
				return err
			}
			defer n.Close()
			if _, err := n.RevokeToken(operatorOffline, id, *rationale); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stderr, "revoked %s\n", id)
		return nil
	case "list":
		fs := newFlags(e, "token list", "token list --data DIR")
		data := fs.String("data", "./entente-data", "the node's data directory")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if c, err := adminClient(*data); err != nil {
			return err
		} else if c != nil {
			resp, err := c.Do(context.Background(), "GET", "/v1/tokens", nil, nil)
			if err != nil {
				return err
			}
			printJSON(e.stdout, resp.Body)
			return nil
		}
		n, err := openOffline(e, *data)
		if err != nil {
			return err
		}
		defer n.Close()
		ts, err := n.Tokens()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"tokens": ts})
		printJSON(e.stdout, b)
		return nil
	default:
		return fmt.Errorf("%w: unknown token verb %q (issue, revoke or list)", errUsage, verb)
	}
}
