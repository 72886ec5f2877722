package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/screen"
	"github.com/entente/entente/node/screening"
)

// stringsFlag is a flag that may be given more than once, each value also split at
// commas: --country IR --country SY, or --country IR,SY.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// runScreen screens one party through the node's API and prints the ranked hits, each
// with its list, entry, the alias that matched, the score and a one-line explanation.
// Every screening is recorded in the node's audit trail.
func runScreen(e *env, args []string) error {
	fs := newFlags(e, "screen", `screen [flags] "NAME" ["ALIAS"...]`)
	a := addAPIFlags(e, fs)
	var countries, listNames stringsFlag
	fs.Var(&countries, "country", "a country of the party, ISO alpha-2 or alpha-3 (repeatable, or comma-separated)")
	fs.Var(&listNames, "list", "screen against this list only (repeatable; default: every list)")
	typ := fs.String("type", "", "person, organisation, vessel or aircraft")
	dob := fs.String("dob", "", "date of birth: YYYY, YYYY-MM or YYYY-MM-DD")
	threshold := fs.Float64("threshold", 0, fmt.Sprintf("lowest score shown, in (0,1] (default %.2f)", screen.DefaultThreshold))
	limit := fs.Int("limit", 0, fmt.Sprintf("hits shown, 1 to %d (default %d)", screen.MaxLimit, screen.DefaultLimit))
	scheme := fs.String("id-scheme", "", "the scheme of --id: imo, passport, national-id, registration, tax, lei, duns, swift, aircraft, other")
	id := fs.String("id", "", "an identifier of the party (an exact match scores 1.0)")
	asJSON := fs.Bool("json", false, "print the node's answer as JSON")
	// Flags may follow the name: entente screen "name" --country IR.
	var names []string
	if err := parse(fs, args); err != nil {
		return err
	}
	for fs.NArg() > 0 {
		names = append(names, fs.Arg(0))
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if len(names) == 0 && *id == "" {
		return fmt.Errorf(`%w: name the party: entente screen "NAME" [--country IR] [--type organisation]`, errUsage)
	}
	if *threshold < 0 || *threshold > 1 {
		return fmt.Errorf("%w: --threshold %v is not a score in (0,1]", errUsage, *threshold)
	}
	if *limit < 0 || *limit > screen.MaxLimit {
		return fmt.Errorf("%w: --limit %d is not 1 to %d", errUsage, *limit, screen.MaxLimit)
	}
	req := screening.Request{Names: names, Type: *typ, Countries: countries, DateOfBirth: *dob, Threshold: *threshold, Limit: *limit, Lists: listNames}
	if *id != "" {
		req.Identifiers = []screen.Identifier{{Scheme: *scheme, Value: *id}}
	}
	c, err := a.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdle()
	resp, err := c.Do(context.Background(), "POST", "/v1/screen", req, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		printJSON(e.stdout, resp.Body)
		return nil
	}
	var out api.ScreenResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return fmt.Errorf("the node's answer: %w", err)
	}
	th := *threshold
	if th == 0 {
		th = screen.DefaultThreshold
	}
	printHits(e.stdout, out, th)
	return nil
}

// printHits prints a screening result as a ranked table.
func printHits(w io.Writer, out api.ScreenResponse, threshold float64) {
	refs := make([]string, len(out.Lists))
	for i, l := range out.Lists {
		refs[i] = l.Name + "@" + shortVersion(l.Version)
	}
	noun := "hits"
	if len(out.Hits) == 1 {
		noun = "hit"
	}
	fmt.Fprintf(w, "%d %s at or above %.2f against %s (audit entry %d)\n", len(out.Hits), noun, threshold, strings.Join(refs, ", "), out.AuditSeq)
	for i, h := range out.Hits {
		primary := h.MatchedName
		if h.Entity != nil && len(h.Entity.Names) > 0 {
			primary = h.Entity.Names[0]
		}
		fmt.Fprintf(w, "%2d. %.3f  %s/%s  %s\n", i+1, h.Score, h.List, h.EntityID, primary)
		if h.MatchedName != primary {
			fmt.Fprintf(w, "      matched alias %q\n", h.MatchedName)
		}
		fmt.Fprintf(w, "      %s\n", explain(h.Explanation))
	}
}

// shortVersion keeps a content digest readable in a table.
func shortVersion(v string) string {
	if rest, ok := strings.CutPrefix(v, "sha256:"); ok && len(rest) > 12 {
		return "sha256:" + rest[:12]
	}
	return v
}

// explain renders an explanation on one line: each component with its contribution, and
// for the name how each query token was matched.
func explain(x screen.Explanation) string {
	var parts []string
	for _, c := range x.Components {
		s := fmt.Sprintf("%s %+.3f", c.Name, c.Contribution)
		switch {
		case c.Name == "name":
			var toks []string
			for _, t := range x.Tokens {
				switch {
				case t.QueryToken != "" && t.EntityToken != "" && t.QueryToken == t.EntityToken:
					toks = append(toks, t.QueryToken+" "+t.Method)
				case t.QueryToken != "" && t.EntityToken != "":
					toks = append(toks, fmt.Sprintf("%s~%s %s %.2f", t.QueryToken, t.EntityToken, t.Method, t.Similarity))
				case t.QueryToken != "":
					toks = append(toks, t.QueryToken+" "+t.Method)
				default:
					toks = append(toks, t.EntityToken+" "+t.Method)
				}
			}
			if x.WordOrder < 0 {
				toks = append(toks, fmt.Sprintf("order %+.3f", x.WordOrder))
			}
			if len(toks) > 0 {
				s += " (" + strings.Join(toks, ", ") + ")"
			}
		case c.Detail != "":
			s += " (" + c.Detail + ")"
		}
		parts = append(parts, s)
	}
	if x.Identifier != nil {
		parts = append(parts, fmt.Sprintf("identifier %s %s exact", x.Identifier.Scheme, x.Identifier.Value))
	}
	return strings.Join(parts, "; ")
}
