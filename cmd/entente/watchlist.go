package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/entente/entente/node/api"
)

// runWatchlist works the consensus watchlist through the node's API.
func runWatchlist(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: watchlist needs a verb: nominate, vote, appeal, renew, list or get", errUsage)
	}
	verb, args := args[0], args[1:]
	fs := newFlags(e, "watchlist "+verb, "watchlist "+verb+" [flags] [ID]")
	a := addAPIFlags(e, fs)
	switch verb {
	case "nominate":
		file := fs.String("file", "-", "the nomination as JSON: {kind, party, basis, rationale, markings} (- reads standard input)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		b, err := readInput(e, *file)
		if err != nil {
			return err
		}
		return callAPI(e, a, "POST", "/v1/watchlist/nominations", b)
	case "vote":
		position := fs.String("position", "", "endorse or object; for an entry under appeal, delist or uphold; for a disputed entry (voters), list or reject (required)")
		blocking := fs.Bool("blocking", false, "make an objection blocking")
		reason := fs.String("reason", "", "the reason for an objection (sealed)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 || *position == "" {
			return fmt.Errorf("%w: watchlist vote --position P [--blocking] [--reason TEXT] ID", errUsage)
		}
		return callAPI(e, a, "POST", "/v1/watchlist/"+url.PathEscape(fs.Arg(0))+"/votes", api.VoteRequest{Position: *position, Blocking: *blocking, Reason: *reason})
	case "appeal":
		grounds := fs.String("grounds", "", "the grounds of the appeal (sealed; required)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 || *grounds == "" {
			return fmt.Errorf("%w: watchlist appeal --grounds TEXT ID", errUsage)
		}
		return callAPI(e, a, "POST", "/v1/watchlist/"+url.PathEscape(fs.Arg(0))+"/appeals", api.AppealRequest{Grounds: *grounds})
	case "renew":
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: watchlist renew ID", errUsage)
		}
		return callAPI(e, a, "POST", "/v1/watchlist/"+url.PathEscape(fs.Arg(0))+"/renewals", nil)
	case "list", "get":
		status := fs.String("status", "", "only entries with this status (list)")
		lin := fs.Bool("linearizable", false, "read through the leader: reflects every committed write")
		if err := parse(fs, args); err != nil {
			return err
		}
		q := url.Values{}
		if *lin {
			q.Set("consistency", "linearizable")
		}
		path := "/v1/watchlist"
		if verb == "get" {
			if fs.NArg() != 1 {
				return fmt.Errorf("%w: watchlist get ID", errUsage)
			}
			path += "/" + url.PathEscape(fs.Arg(0))
		} else {
			if fs.NArg() != 0 {
				return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
			}
			if *status != "" {
				q.Set("status", *status)
			}
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return callAPI(e, a, "GET", path, nil)
	default:
		return fmt.Errorf("%w: unknown watchlist verb %q", errUsage, verb)
	}
}

// runIndicator publishes and reads risk indicators.
func runIndicator(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: indicator needs a verb: publish, corroborate, withdraw or list", errUsage)
	}
	verb, args := args[0], args[1:]
	fs := newFlags(e, "indicator "+verb, "indicator "+verb+" [flags] [ID]")
	a := addAPIFlags(e, fs)
	switch verb {
	case "publish":
		kind := fs.String("kind", "", "destination, end-user, item, route, diversion, failed-end-use-check or supply-chain (required)")
		subject := fs.String("subject", "", "what the indicator is about, such as a state code or an end user (required)")
		severity := fs.Int("severity", 0, "1 (low) to 5 (high) (required)")
		evidence := fs.String("evidence", "", "the evidence (sealed; required)")
		valid := fs.Duration("valid-for", 90*24*time.Hour, "how long the indicator stands")
		marking := fs.String("marking", "", "marking of subject and evidence (default REL TO FEDERATION)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		req := api.IndicatorRequest{Kind: *kind, Subject: *subject, Severity: *severity, Evidence: *evidence,
			SubjectMarking: *marking, EvidenceMarking: *marking, ValidUntil: time.Now().Add(*valid).UTC().Truncate(time.Second)}
		b, _ := json.Marshal(req)
		return callAPI(e, a, "POST", "/v1/indicators", b)
	case "corroborate", "withdraw":
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: indicator %s ID", errUsage, verb)
		}
		suffix := "/corroborations"
		if verb == "withdraw" {
			suffix = "/withdrawal"
		}
		return callAPI(e, a, "POST", "/v1/indicators/"+url.PathEscape(fs.Arg(0))+suffix, nil)
	case "list":
		lin := fs.Bool("linearizable", false, "read through the leader")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		path := "/v1/indicators"
		if *lin {
			path += "?consistency=linearizable"
		}
		return callAPI(e, a, "GET", path, nil)
	default:
		return fmt.Errorf("%w: unknown indicator verb %q", errUsage, verb)
	}
}
