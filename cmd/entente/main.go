// Command entente runs and administers an Entente node: a member state's node in a
// federation that shares consensus watchlists and risk indicators while national records
// stay in the country. Each subcommand lives in its own file; main only dispatches and is
// the one place that exits.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand.
type command struct {
	summary string
	run     func(env *env, args []string) error
	// verbs, for a command that takes a verb first, are the verbs it knows, so that
	// 'entente <command> --help' can list them.
	verbs []string
}

// env is what a command may touch besides its arguments, so tests can run commands
// in-process with their own streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() map[string]command {
	return map[string]command{
		"init":       {"create a node's identity and config in a data directory", runInit, nil},
		"serve":      {"run the node: the signed HTTPS API and the admin socket", runServe, nil},
		"token":      {"issue, revoke or list client tokens", runToken, []string{"issue", "revoke", "list"}},
		"record":     {"add, correct, get or list national records", runRecord, []string{"add", "correct", "get", "list"}},
		"keys":       {"rotate the response-signing key", runKeys, []string{"rotate"}},
		"verify":     {"verify a saved response's detached JWS offline against a JWKS", runVerify, nil},
		"federation": {"found and run a federation", runFederation, []string{"genesis", "gossip-key", "status", "members", "rotate-chair", "admit", "remove", "proposals", "vote", "propose-policy", "policy"}},
		"watchlist":  {"nominate, vote, appeal, renew, list the consensus watchlist", runWatchlist, []string{"nominate", "vote", "appeal", "renew", "list", "get"}},
		"indicator":  {"publish, corroborate, withdraw, list risk indicators", runIndicator, []string{"publish", "corroborate", "withdraw", "list"}},
		"testnet":    {"run a local federation of real node processes", runTestnet, []string{"up", "token", "down"}},
		"audit":      {"verify the audit trail's hash chain", runAudit, []string{"verify"}},
		"import":     {"parse a public sanctions list and import it into the node's screening lists", runImport, nil},
		"screen":     {"screen a party against the node's lists: ranked hits with explanations", runScreen, nil},
		"version":    {"print the version", func(e *env, _ []string) error { fmt.Fprintln(e.stdout, "entente", version); return nil }, nil},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: entente <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := cmds[n]
		if len(c.verbs) > 0 {
			fmt.Fprintf(w, "  %-11s %s (%s)\n", n, c.summary, strings.Join(c.verbs, "|"))
			continue
		}
		fmt.Fprintf(w, "  %-11s %s\n", n, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'entente <command> --help' for a command's flags or verbs.")
}

// verbUsage tells what a command that takes a verb does and which verbs it knows.
func verbUsage(w io.Writer, name string, c command) {
	fmt.Fprintf(w, "Usage: entente %s <verb> [flags]\n\n%s.\n\nVerbs: %s\n\nRun 'entente %s <verb> --help' for a verb's flags.\n",
		name, strings.ToUpper(c.summary[:1])+c.summary[1:], strings.Join(c.verbs, ", "), name)
}

// joinOr lists words as "a, b or c".
func joinOr(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

// errUsage marks an error the user fixes by changing the command line (exit status 2).
var errUsage = errors.New("usage")

func run(e *env, args []string) error {
	if len(args) == 0 || isHelp(args[0]) {
		usage(e.stdout)
		return nil
	}
	c, ok := commands()[args[0]]
	if !ok {
		usage(e.stderr)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if len(c.verbs) > 0 {
		switch {
		case len(args) > 1 && isHelp(args[1]):
			verbUsage(e.stdout, args[0], c)
			return nil
		case len(args) == 1:
			verbUsage(e.stderr, args[0], c)
			return fmt.Errorf("%w: %s needs a verb: %s", errUsage, args[0], joinOr(c.verbs))
		}
	}
	return c.run(e, args[1:])
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(e, os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "entente:", strings.TrimPrefix(err.Error(), "usage: "))
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "entente:", err)
		os.Exit(1)
	}
}

// newFlags makes a flag set whose errors come back to the caller and whose usage names
// the command.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: entente %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// parseNoArgs is parse for a command that takes flags only. A stray word is refused, not
// ignored: `entente keys rotate /srv/node` must not rotate the key of ./entente-data.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags are given as --name value)", errUsage, fs.Arg(0))
	}
	return nil
}

// selfPath is this executable, for commands that start more of it.
func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}
