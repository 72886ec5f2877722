package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
)

// runAudit verifies the audit trail. With a token it fetches the trail page by page over
// the signed API and checks the chain itself, trusting nothing the node computed; with
// only --data it reads a stopped node's database.
func runAudit(e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("%w: audit needs a verb: verify", errUsage)
	}
	fs := newFlags(e, "audit verify", "audit verify [--data DIR] [--node URL --token T --jwks FILE]")
	a := addAPIFlags(e, fs)
	if err := parseNoArgs(fs, args[1:]); err != nil {
		return err
	}
	if a.token == "" && e.getenv("ENTENTE_TOKEN") == "" {
		if a.data == "" {
			return fmt.Errorf("%w: pass an auditor token (--token) to verify over the API, or --data DIR of a stopped node", errUsage)
		}
		n, err := openOffline(e, a.data)
		if err != nil {
			return err
		}
		defer n.Close()
		st, err := n.VerifyAudit()
		if err != nil {
			return err
		}
		return reportAudit(e, st.OK, st.Entries, st.HeadSeq, st.Head, st.BadSeq, st.Problem)
	}
	c, err := a.client(e)
	if err != nil {
		return err
	}
	v := audit.NewVerifier()
	var after uint64
	for {
		var page struct {
			Entries   []audit.Entry `json:"entries"`
			NextAfter string        `json:"next_after"`
		}
		resp, err := c.Do(context.Background(), "GET", "/v1/audit?"+url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {"1000"}}.Encode(), nil, nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return fmt.Errorf("audit page after %d: %w", after, err)
		}
		for _, en := range page.Entries {
			if err := v.Next(en); err != nil {
				var ce *audit.ChainError
				if errors.As(err, &ce) {
					return reportAudit(e, false, v.Count(), 0, "", ce.Seq, ce.Problem)
				}
				return err
			}
		}
		if page.NextAfter == "" || len(page.Entries) == 0 {
			break
		}
		after = page.Entries[len(page.Entries)-1].Seq
	}
	// The node's own view of its head must agree with the chain we walked: a removed
	// tail shows up here.
	var st api.AuditStatus
	if err := c.JSON(context.Background(), "GET", "/v1/audit/verify", nil, &st); err != nil {
		return err
	}
	last := v.Last()
	if !st.OK {
		return reportAudit(e, false, v.Count(), 0, "", st.BadSeq, "the node reports: "+st.Problem)
	}
	if st.HeadSeq != last.Seq || st.Head != last.Hash {
		return reportAudit(e, false, v.Count(), 0, "", last.Seq, fmt.Sprintf("the node's head is seq %d, the chain served ends at %d", st.HeadSeq, last.Seq))
	}
	return reportAudit(e, true, v.Count(), last.Seq, last.Hash, 0, "")
}

func reportAudit(e *env, ok bool, n, headSeq uint64, head string, bad uint64, problem string) error {
	if !ok {
		return fmt.Errorf("audit trail BROKEN at seq %d: %s (%d entries checked before it)", bad, problem, n)
	}
	fmt.Fprintf(e.stdout, "audit trail intact: %d entries, head seq %d hash %s\n", n, headSeq, head)
	return nil
}
