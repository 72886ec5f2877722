package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
)

// An integrator follows its node's alert feed, resuming after the last alert it handled.
func ExampleClient_FollowAlerts() {
	jwks, err := os.ReadFile("fra/keys/jwks.json") // the node's keys, obtained out of band
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jws.ParseKeySet(jwks)
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New("https://127.0.0.11:8443", client.Options{Token: os.Getenv("ENTENTE_TOKEN"), TLSPin: "sha256:...", Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	cursor := uint64(0) // the last seq handled, as saved by the previous run
	err = c.FollowAlerts(context.Background(), cursor, client.FollowOptions{Kinds: []string{"listed", "delisted"}}, func(a api.AlertView) error {
		fmt.Println(a.Seq, a.Kind, a.Subject, "from", a.Origin)
		return os.WriteFile("cursor", []byte(strconv.FormatUint(a.Seq, 10)), 0o600)
	})
	log.Fatal(err)
}
