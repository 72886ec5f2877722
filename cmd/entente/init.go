package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node/config"
	"github.com/entente/entente/policy"
)

// runInit creates a node: the data directory, the identity and a commented config file,
// then prints the member card the other states need.
func runInit(e *env, args []string) error {
	fs := newFlags(e, "init", "init --state FRA --data DIR [--api-addr HOST:PORT]")
	state := fs.String("state", "", "this node's state: an ISO 3166-1 alpha-3 code such as FRA (required)")
	data := fs.String("data", config.New().DataDir, "data directory to create")
	apiAddr := fs.String("api-addr", config.New().APIAddr, "address the API will listen on (goes into the config file and the member card)")
	raftAddr := fs.String("raft-addr", "", "federation cluster port for the member card (default: the API host, port 7443)")
	gossipAddr := fs.String("gossip-addr", "", "federation gossip port for the member card (default: the API host, port 7946)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *state == "" {
		return fmt.Errorf("%w: --state is required (an ISO 3166-1 alpha-3 code such as FRA)", errUsage)
	}
	if err := policy.ValidStateCode(*state); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	id, err := identity.Create(*data, *state, *apiAddr)
	if err != nil {
		if errors.Is(err, identity.ErrExists) {
			return fmt.Errorf("%w; nothing was changed (use another --data directory for a new node)", err)
		}
		return err
	}
	cfgPath := filepath.Join(*data, config.FileName)
	f, err := os.OpenFile(cfgPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, os.ErrExist):
		fmt.Fprintf(e.stderr, "kept the existing %s\n", cfgPath)
	case err != nil:
		return fmt.Errorf("write %s: %w", cfgPath, err)
	default:
		_, werr := f.Write(config.DefaultFile(*apiAddr))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", cfgPath, werr)
		}
	}
	host, _, _ := net.SplitHostPort(*apiAddr)
	c := id.Card(*apiAddr)
	c.RaftAddr, c.GossipAddr = *raftAddr, *gossipAddr
	if c.RaftAddr == "" {
		c.RaftAddr = net.JoinHostPort(host, "7443")
	}
	if c.GossipAddr == "" {
		c.GossipAddr = net.JoinHostPort(host, "7946")
	}
	card, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if _, err := identity.ParseCard(card); err != nil {
		return fmt.Errorf("member card: %w", err)
	}
	if err := os.WriteFile(filepath.Join(*data, identity.CardFile), append(card, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "created node %s in %s (keys in %s, 0600)\nmember card (also in %s):\n", id.State, *data, filepath.Join(*data, "keys"), filepath.Join(*data, "member.card.json"))
	fmt.Fprintln(e.stdout, string(card))
	return nil
}
