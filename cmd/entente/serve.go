package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/entente/entente/node"
	"github.com/entente/entente/node/config"
)

// runServe runs the node until SIGINT or SIGTERM, then drains and closes the database.
func runServe(e *env, args []string) error {
	fs := newFlags(e, "serve", "serve [--data DIR] [--api-addr HOST:PORT] [flags]\n\nSettings come from DATA/config.yaml, then ENTENTE_* environment variables, then these flags")
	cfg, err := config.Load(fs, args, e.getenv)
	if err != nil {
		if errors.Is(err, config.ErrUsage) {
			return fmt.Errorf("%w: %v", errUsage, strings.TrimPrefix(err.Error(), "usage: "))
		}
		return err
	}
	log := newLogger(e, cfg)
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	n, err := node.Open(cfg, log, node.Options{})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	serveErr := n.Serve(ctx, nil)
	if err := n.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("close the node database: %w", err)
	}
	if serveErr == nil {
		log.Info("stopped cleanly")
	}
	return serveErr
}

func newLogger(e *env, cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}
