// Command integrator is the smallest useful Entente integrator: it follows a node's alert
// feed, prints each alert, and keeps its cursor in a file so that a restart carries on
// where it stopped, with nothing missed and nothing twice.
//
// Everything it prints has been verified first: the node's TLS key is pinned (from the
// node's member card, or -pin), every page or stream event is checked against the node's
// JWKS before it is read, and with -genesis each federation alert's originator
// signature is checked against that state's key in the federation's roster.
//
//	export ENTENTE_TOKEN=$(bin/entente testnet token --dir demo-net --state FRA --role integrator)
//	go run ./examples/integrator -card demo-net/fra/member.card.json \
//	    -jwks demo-net/fra/keys/jwks.json -genesis demo-net/genesis.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
)

func main() {
	url := flag.String("url", "", "the node's API (default: https:// and the api_addr on -card)")
	card := flag.String("card", "", "the node's member card (DATA/member.card.json): its TLS pin and address")
	pin := flag.String("pin", "", "the node's TLS pin, sha256:... (instead of -card)")
	jwksFile := flag.String("jwks", "", "the node's JWKS (DATA/keys/jwks.json), obtained out of band; required")
	token := flag.String("token", os.Getenv("ENTENTE_TOKEN"), "a token with a role that may read alerts (default $ENTENTE_TOKEN)")
	cursorFile := flag.String("cursor", "integrator.cursor", "file keeping the last alert handled")
	kinds := flag.String("kind", "", "alert kinds to follow, comma-separated (default: all)")
	stream := flag.Bool("stream", false, "follow the Server-Sent Events stream instead of polling pages")
	genesis := flag.String("genesis", "", "the federation's genesis document: check each federation alert's originator signature")
	flag.Parse()
	log.SetFlags(0)

	if *card != "" {
		b, err := os.ReadFile(*card)
		if err != nil {
			log.Fatal(err)
		}
		c, err := identity.ParseCard(b)
		if err != nil {
			log.Fatalf("%s: %v", *card, err)
		}
		if *pin == "" {
			*pin = c.TLSPin
		}
		if *url == "" {
			*url = "https://" + c.APIAddr
		}
	}
	if *url == "" || *pin == "" || *jwksFile == "" || *token == "" {
		log.Fatal("need -jwks, a token (-token or ENTENTE_TOKEN), and -card or both -url and -pin")
	}
	readKeys := func() (*jws.KeySet, error) {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return nil, err
		}
		return jws.ParseKeySet(b)
	}
	keys, err := readKeys()
	if err != nil {
		log.Fatalf("%s: %v", *jwksFile, err)
	}
	var roster map[string]*jws.KeySet
	if *genesis != "" {
		b, err := os.ReadFile(*genesis)
		if err == nil {
			roster, err = client.RosterKeys(b)
		}
		if err != nil {
			log.Fatalf("%s: %v", *genesis, err)
		}
	}
	// RefreshKeys re-reads the local file when the node rotates its key: a trusted place,
	// unlike the node's own /.well-known/jwks.json.
	c, err := client.New(*url, client.Options{Token: *token, TLSPin: *pin, Keys: keys, RefreshKeys: readKeys})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdle()

	after, err := loadCursor(*cursorFile)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := client.FollowOptions{}
	if *kinds != "" {
		o.Kinds = strings.Split(*kinds, ",")
	}
	o.OnError = func(err error, wait time.Duration) {
		log.Printf("retrying in %s: %v", wait.Round(time.Millisecond), err)
	}

	handle := func(a api.AlertView) error {
		proof := ""
		if roster != nil && a.Source == "federation" {
			if kid, err := client.VerifyAlertOrigin(a, roster[a.Origin]); err != nil {
				proof = "  ORIGIN NOT PROVEN: " + err.Error()
			} else {
				proof = "  signed by " + a.Origin + " (key " + kid[:min(8, len(kid))] + ")"
			}
		}
		fmt.Printf("%6d  %s  %-10s %-16s %-28s from %s%s\n", a.Seq, a.Time.Format("2006-01-02 15:04:05"), a.Source, a.Kind, a.Subject, a.Origin, proof)
		// Saved after the alert is handled: a crash before this line shows it again, never
		// skips it. A real integrator saves the cursor with what it did, in one transaction.
		return saveCursor(*cursorFile, a.Seq)
	}
	log.Printf("following %s after alert %d (cursor in %s)", *url, after, *cursorFile)
	if *stream {
		err = c.StreamAlertsWith(ctx, after, o, handle)
	} else {
		err = c.FollowAlerts(ctx, after, o, handle)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// loadCursor reads the last handled alert's seq; no file means the start of the feed.
func loadCursor(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// saveCursor replaces the cursor file atomically, so a crash leaves the old or the new
// value, never a torn one.
func saveCursor(path string, seq uint64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cursor-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(strconv.FormatUint(seq, 10) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
