package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func splitCodes(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// runFederation founds a federation and looks at it.
func runFederation(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: federation needs a verb: genesis, gossip-key, status, members, rotate-chair, admit, remove, proposals, vote, propose-policy or policy", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "genesis":
		fs := newFlags(e, "federation genesis", "federation genesis --member CARD --member CARD ... --voters FRA,DEU,GBR [--observers X] [--policy FILE] [--name NAME] --out FILE")
		var members stringList
		fs.Var(&members, "member", "a member card (repeat for each state)")
		voters := fs.String("voters", "", "the steering body: comma-separated state codes (required)")
		observers := fs.String("observers", "", "observers: comma-separated state codes")
		polFile := fs.String("policy", "", "federation policy YAML (default: the built-in policy)")
		name := fs.String("name", "entente", "the federation's name")
		out := fs.String("out", "genesis.json", "where to write the genesis document")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if len(members) == 0 || *voters == "" {
			return fmt.Errorf("%w: --member (one per state) and --voters are required", errUsage)
		}
		var cards []identity.Card
		for _, m := range members {
			b, err := os.ReadFile(m)
			if err != nil {
				return err
			}
			c, err := identity.ParseCard(b)
			if err != nil {
				return fmt.Errorf("--member %s: %w", m, err)
			}
			cards = append(cards, c)
		}
		pol := policy.DefaultPolicy()
		if *polFile != "" {
			b, err := os.ReadFile(*polFile)
			if err != nil {
				return err
			}
			if pol, err = policy.ParsePolicy(b); err != nil {
				return fmt.Errorf("--policy %s: %w", *polFile, err)
			}
		}
		g, err := node.BuildGenesis(*name, cards, splitCodes(*voters), splitCodes(*observers), pol)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: federation %q, %d members, genesis %s\n", *out, g.Federation, len(g.Members), g.Hash()[:16])
		return nil
	case "gossip-key":
		fs := newFlags(e, "federation gossip-key", "federation gossip-key --out FILE")
		out := fs.String("out", "gossip.key", "where to write the new key (0600); hand it to each node as a secret, never in the genesis")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if err := node.GenerateGossipKey(*out); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s (0600)\n", *out)
		return nil
	case "admit", "remove", "proposals", "vote":
		fs := newFlags(e, "federation "+verb, "federation admit --card CARD [--role member] | remove --state X | proposals | vote --position endorse|object [--blocking] ID (a membership proposal or a policy amendment)")
		a := addAPIFlags(e, fs)
		cardFile := fs.String("card", "", "admit: the new state's member card")
		role := fs.String("role", "member", "admit: voter, member or observer")
		target := fs.String("state", "", "remove: the state to remove")
		position := fs.String("position", "", "vote: endorse or object")
		blocking := fs.Bool("blocking", false, "vote: make an objection blocking")
		if err := parse(fs, args); err != nil {
			return err
		}
		switch verb {
		case "admit":
			if *cardFile == "" || fs.NArg() != 0 {
				return fmt.Errorf("%w: federation admit --card CARD [--role ROLE]", errUsage)
			}
			b, err := os.ReadFile(*cardFile)
			if err != nil {
				return err
			}
			return callAPI(e, a, "POST", "/v1/federation/admissions", api.AdmissionRequest{Card: b, Role: *role})
		case "remove":
			if *target == "" || fs.NArg() != 0 {
				return fmt.Errorf("%w: federation remove --state X", errUsage)
			}
			return callAPI(e, a, "POST", "/v1/federation/removals", api.RemovalRequest{State: *target})
		case "proposals":
			if fs.NArg() != 0 {
				return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
			}
			return callAPI(e, a, "GET", "/v1/federation/proposals", nil)
		default:
			if fs.NArg() != 1 || *position == "" {
				return fmt.Errorf("%w: federation vote --position endorse|object [--blocking] PROPOSAL", errUsage)
			}
			return callAPI(e, a, "POST", "/v1/federation/proposals/"+fs.Arg(0)+"/votes", api.VoteRequest{Position: *position, Blocking: *blocking})
		}
	case "propose-policy":
		fs := newFlags(e, "federation propose-policy", "federation propose-policy --policy FILE.yaml --summary TEXT [--id ID]")
		a := addAPIFlags(e, fs)
		polFile := fs.String("policy", "", "the complete proposed federation policy (YAML, as for federation genesis; absent settings take the built-in defaults, not the policy in force)")
		summary := fs.String("summary", "", "plain-language public summary of what changes and why (20 to 2000 characters)")
		id := fs.String("id", "", "the proposal's id (default: one is made)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if *polFile == "" || *summary == "" {
			return fmt.Errorf("%w: federation propose-policy --policy FILE.yaml --summary TEXT", errUsage)
		}
		b, err := os.ReadFile(*polFile)
		if err != nil {
			return err
		}
		pol, err := policy.ParsePolicy(b)
		if err != nil {
			return fmt.Errorf("--policy %s: %w", *polFile, err)
		}
		pj, _ := json.Marshal(pol)
		return callAPI(e, a, "POST", "/v1/federation/policy-proposals", api.PolicyProposalRequest{ID: *id, Policy: pj, Summary: *summary})
	case "policy":
		fs := newFlags(e, "federation policy", "federation policy [--data DIR | --node URL --jwks FILE] [--token T]")
		a := addAPIFlags(e, fs)
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		return callAPI(e, a, "GET", "/v1/federation/policy", nil)
	case "status", "members", "rotate-chair":
		fs := newFlags(e, "federation "+verb, "federation "+verb+" [--data DIR | --node URL --jwks FILE] [--token T]")
		a := addAPIFlags(e, fs)
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		method, path := "GET", "/v1/federation/"+verb
		if verb == "rotate-chair" {
			method = "POST"
		}
		return callAPI(e, a, method, path, nil)
	default:
		return fmt.Errorf("%w: unknown federation verb %q", errUsage, verb)
	}
}

// callAPI calls the node's API as a token holder and prints the verified answer.
func callAPI(e *env, a *apiFlags, method, path string, body any) error {
	c, err := a.client(e)
	if err != nil {
		return err
	}
	resp, err := c.Do(context.Background(), method, path, body, nil)
	if err != nil {
		return err
	}
	printJSON(e.stdout, resp.Body)
	return nil
}
