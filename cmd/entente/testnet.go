package main

import (
	"context"
	"fmt"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/entente/entente/testnet"
)

// runTestnet runs a local federation of real node processes, each on its own loopback
// address with its own identity and one shared genesis.
func runTestnet(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: testnet needs a verb: up, token or down", errUsage)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "up":
		fs := newFlags(e, "testnet up", "testnet up [--nodes 3] [--dir ./testnet] [--detach] [--no-seed]")
		nodes := fs.Int("nodes", 3, "how many member states (the first three vote)")
		dir := fs.String("dir", "./testnet", "where the nodes' data, the genesis and testnet.json go")
		detach := fs.Bool("detach", false, "leave the nodes running in the background (stop them with testnet down)")
		noSeed := fs.Bool("no-seed", false, "start empty instead of seeding demo data from the UN list")
		bin := fs.String("bin", "", "the entente binary to run (default: this one)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if *bin == "" {
			*bin = selfPath()
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		net, err := testnet.Up(ctx, testnet.Options{Bin: *bin, Dir: abs, Nodes: *nodes, Seed: !*noSeed, LogFiles: *detach, RateLimits: true,
			Progress: func(s string) { fmt.Fprintln(e.stderr, "testnet:", s) }})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "federation of %d states is up (genesis %s)\n\n", len(net.Nodes), net.Genesis)
		for i, n := range net.Nodes {
			fmt.Fprintf(e.stdout, "%s  %s  data %s  pid %d\n     officer token: %s\n", n.State, n.URL(), n.DataDir, n.PID(), net.Tokens[i]["officer"])
		}
		fmt.Fprintf(e.stdout, "\ntokens for every role: %s\ntry: ENTENTE_TOKEN=<officer token> entente watchlist list --data %s\n",
			filepath.Join(abs, testnet.ManifestFile), net.Nodes[0].DataDir)
		if *detach {
			fmt.Fprintf(e.stdout, "stop it with: entente testnet down --dir %s\n", *dir)
			return nil
		}
		fmt.Fprintln(e.stdout, "Ctrl-C stops every node.")
		<-ctx.Done()
		fmt.Fprintln(e.stderr, "testnet: stopping")
		return net.Down(20 * time.Second)
	case "token":
		fs := newFlags(e, "testnet token", "testnet token [--dir ./testnet] --state FRA --role officer")
		dir := fs.String("dir", "./testnet", "the network's directory")
		state := fs.String("state", "FRA", "whose node")
		role := fs.String("role", "officer", "which role's token")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		m, err := testnet.ReadManifest(*dir)
		if err != nil {
			return err
		}
		for _, n := range m.Nodes {
			if n.State == *state {
				tok, ok := n.Tokens[*role]
				if !ok {
					return fmt.Errorf("%w: no %q token (roles: officer, analyst, steering, integrator, auditor, operator)", errUsage, *role)
				}
				fmt.Fprintln(e.stdout, tok)
				return nil
			}
		}
		return fmt.Errorf("no node for %s in %s", *state, *dir)
	case "down":
		fs := newFlags(e, "testnet down", "testnet down [--dir ./testnet]")
		dir := fs.String("dir", "./testnet", "the network's directory")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if err := testnet.DownDir(*dir, 20*time.Second); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, "testnet: stopped")
		return nil
	default:
		return fmt.Errorf("%w: unknown testnet verb %q", errUsage, verb)
	}
}
