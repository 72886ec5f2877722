package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screening"
)

// importTimeout bounds one upload of a list to the node: a million-name list is a few
// hundred megabytes to read, index and store.
const importTimeout = 30 * time.Minute

// runImport parses a public list locally (showing progress), prints its counts and
// version, and imports it into the node: over the admin socket when the node is serving
// from the data directory, otherwise straight into its database. Parsing happens here,
// not in the node, so a malformed file is refused before anything is sent, with the
// file, line and reason.
func runImport(e *env, args []string) error {
	fs := newFlags(e, "import", "import --format "+strings.Join(lists.Formats(), "|")+" (--dir DIR | --file FILE) [--list NAME] [--data DIR]")
	data := fs.String("data", "./entente-data", "the node's data directory")
	format := fs.String("format", "", "the list's format: "+strings.Join(lists.Formats(), ", ")+" (required)")
	dir := fs.String("dir", "", "the directory holding the list's files (ofac-sdn, ofac-cons: sdn.csv/add.csv/alt.csv...)")
	file := fs.String("file", "", "the list's file (un-xml, csl, bis-dpl, ftm)")
	name := fs.String("list", "", "the name the node keeps the list under (default: the format's list name, such as un or ofac-sdn)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *format == "" {
		return fmt.Errorf("%w: --format is required (%s)", errUsage, strings.Join(lists.Formats(), ", "))
	}
	path := *dir
	switch {
	case *dir != "" && *file != "":
		return fmt.Errorf("%w: give --dir or --file, not both", errUsage)
	case *dir == "" && *file == "":
		return fmt.Errorf("%w: name the list with --dir DIR (ofac-sdn, ofac-cons) or --file FILE (the other formats)", errUsage)
	case *file != "":
		path = *file
	}
	if *name != "" {
		if err := screening.CheckName(*name); err != nil {
			return fmt.Errorf("%w: --list: %v", errUsage, err)
		}
	}

	fmt.Fprintf(e.stderr, "parsing %s as %s\n", path, *format)
	res, err := lists.Parse(*format, path, progressPrinter(e.stderr))
	if err != nil {
		if errors.Is(err, lists.ErrUnknownFormat) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	list := *name
	if list == "" {
		list = res.Entities[0].List
	}
	c := res.Counts
	fmt.Fprintf(e.stdout, "%s: %d entities (%d persons, %d organisations, %d vessels, %d aircraft, %d other), %d aliases, %d identifiers, %d skipped\n",
		res.Format, c.Entities, c.Persons, c.Organisations, c.Vessels, c.Aircraft, c.Other, c.Aliases, c.Identifiers, c.Skipped)
	fmt.Fprintf(e.stdout, "version %s\n", res.Version)

	body, err := importBody(res, list)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "importing %d entities into list %s (%d bytes)\n", c.Entities, list, len(body))
	out, err := uploadList(e, *data, list, body)
	if err != nil {
		return err
	}
	switch {
	case out.Unchanged:
		fmt.Fprintf(e.stdout, "list %s already serves version %s: nothing changed\n", list, out.List.Version)
	case out.Created:
		fmt.Fprintf(e.stdout, "list %s imported: version %s, %d entities\n", list, out.List.Version, out.List.Count)
	default:
		fmt.Fprintf(e.stdout, "list %s replaced: version %s, %d entities (was %s)\n", list, out.List.Version, out.List.Count, out.Previous)
	}
	if r := out.Rescreen; r != nil {
		fmt.Fprintf(e.stdout, "re-screened %d pending records (%d parties): %d new local alerts\n", r.Records, r.Parties, r.Alerts)
	}
	return nil
}

// importBody is the NDJSON the node imports: a header, then one entity per line, each
// in list.
func importBody(res *lists.Result, list string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	counts := screening.CountsOf(res.Counts)
	if err := enc.Encode(screening.Header{Format: res.Format, Version: res.Version, Counts: &counts}); err != nil {
		return nil, err
	}
	for i := range res.Entities {
		e := res.Entities[i]
		e.List = list
		if err := enc.Encode(&e); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// uploadList sends body to the node serving from dataDir, or imports it into the
// stopped node's database.
func uploadList(e *env, dataDir, list string, body []byte) (*api.ImportResponse, error) {
	c, err := adminClient(dataDir)
	if err != nil {
		return nil, err
	}
	var out api.ImportResponse
	if c != nil {
		c.CloseIdle()
		keys, err := readKeySet(dataDir)
		if err != nil {
			return nil, err
		}
		// The admin client's ten seconds are for administrative calls; a list takes longer.
		long, err := client.New("http://admin", client.Options{UnixSocket: filepath.Join(dataDir, node.AdminSocket), Keys: keys, Timeout: importTimeout,
			RefreshKeys: func() (*jws.KeySet, error) { return readKeySet(dataDir) }})
		if err != nil {
			return nil, err
		}
		defer long.CloseIdle()
		ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
		defer cancel()
		resp, err := long.Do(ctx, "PUT", "/v1/lists/"+url.PathEscape(list), body, nil)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			return nil, fmt.Errorf("the node's answer: %w", err)
		}
		return &out, nil
	}
	n, err := openOffline(e, dataDir)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	res, err := n.ImportList(operatorOffline, list, bytes.NewReader(body))
	if err != nil {
		return nil, screeningError(err)
	}
	return res, nil
}

// screeningError words the node's refusal of an import the way the API would.
func screeningError(err error) error {
	var le *screening.LineError
	switch {
	case errors.As(err, &le):
		return fmt.Errorf("the node refused the list: %v (the last good version keeps serving)", le)
	case errors.Is(err, screening.ErrVersionConflict):
		return fmt.Errorf("%v: give the new content a new version", err)
	}
	return err
}

// progressPrinter shows a parse's progress on w, one line per tenth of the input (or per
// step of records when the size is unknown).
func progressPrinter(w io.Writer) lists.Progress {
	last := -1
	return func(done, total int64) {
		if total <= 0 {
			fmt.Fprintf(w, "  %d records read\n", done)
			return
		}
		pct := int(done * 100 / total)
		if pct/10 == last/10 && pct != 100 {
			return
		}
		if pct == 100 && last == 100 {
			return
		}
		last = pct
		fmt.Fprintf(w, "  %3d%% (%s of %s)\n", pct, size(done), size(total))
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
