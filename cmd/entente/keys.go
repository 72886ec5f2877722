package main

import (
	"context"
	"fmt"

	"github.com/entente/entente/node/api"
)

// runKeys rotates the response-signing key. The retired public key stays in the JWKS so
// that responses signed before the rotation still verify.
func runKeys(e *env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return fmt.Errorf("%w: keys needs a verb: rotate", errUsage)
	}
	fs := newFlags(e, "keys rotate", "keys rotate --data DIR [--rationale TEXT]")
	data := fs.String("data", "./entente-data", "the node's data directory")
	rationale := fs.String("rationale", "", "why the key is rotated, kept in the audit trail")
	if err := parseNoArgs(fs, args[1:]); err != nil {
		return err
	}
	var out struct {
		Retired string `json:"retired_kid"`
		Current string `json:"current_kid"`
	}
	if c, err := adminClient(*data); err != nil {
		return err
	} else if c != nil {
		if err := c.JSON(context.Background(), "POST", "/v1/keys/rotate", api.RevokeRequest{Rationale: *rationale}, &out); err != nil {
			return err
		}
	} else {
		n, err := openOffline(e, *data)
		if err != nil {
			return err
		}
		defer n.Close()
		if out.Retired, out.Current, err = n.RotateKeys(operatorOffline, *rationale); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "signing key rotated: current %s, retired %s (still in the JWKS)\n", out.Current, out.Retired)
	return nil
}
