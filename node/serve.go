package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/node/ui"
)

// AdminSocket is the operator's Unix socket inside the data directory. Whoever can open it
// can already read the node's keys, so it needs no token: the file system guards it (0600
// in a 0700 directory), and it is never reachable from the network.
const AdminSocket = "admin.sock"

// RuntimeFile records where a running node listens, for the CLI and the test network.
const RuntimeFile = "runtime.json"

// Runtime is the content of RuntimeFile.
type Runtime struct {
	PID     int    `json:"pid"`
	APIURL  string `json:"api_url"`
	State   string `json:"state"`
	Started string `json:"started"`
}

// Serve runs the API on ln (or on cfg.APIAddr when ln is nil) and the admin socket until
// ctx is cancelled, then drains in-flight requests for up to cfg.ShutdownTimeout. Every
// write acknowledged before Serve returns is committed and synced to disk.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.collector())
	opts := api.Options{MaxBodyBytes: n.cfg.MaxBodyBytes, MaxConcurrent: n.cfg.MaxConcurrent, Registry: reg, TAXII: n.newTAXII(),
		RateLimit: n.cfg.RateLimit, RateBurst: n.cfg.RateBurst}
	handler := api.New(n, n.log, opts)
	public, err := n.publicHandler(handler)
	if err != nil {
		return err
	}

	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.cfg.APIAddr); err != nil {
			return fmt.Errorf("api_addr %s: %w", n.cfg.APIAddr, err)
		}
	}
	scheme := "https"
	if n.cfg.InsecureHTTP {
		scheme = "http"
		n.log.Warn("serving plain HTTP: tokens and records cross the network unencrypted", "setting", "insecure_http")
	} else {
		ln = tls.NewListener(ln, &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{n.id.TLS},
			NextProtos:   []string{"h2", "http/1.1"},
			// Member nodes present their roster certificate when they forward to the
			// leader; clients with tokens present none. The pin is checked per route.
			ClientAuth: tls.RequestClientCert,
		})
	}
	srv := &http.Server{
		Handler:           public,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}

	sockPath := filepath.Join(n.cfg.DataDir, AdminSocket)
	_ = os.Remove(sockPath) // a socket left by a killed process; the database lock proves none is running
	adminLn, err := listenUnix(sockPath)
	if err != nil {
		return err
	}
	admin := &http.Server{Handler: api.New(n, n.log, api.Options{MaxBodyBytes: n.cfg.MaxBodyBytes, MaxConcurrent: 16, Registry: reg, Admin: true}), ReadHeaderTimeout: 5 * time.Second}

	url := scheme + "://" + ln.Addr().String()
	rt, _ := json.Marshal(Runtime{PID: os.Getpid(), APIURL: url, State: n.id.State, Started: n.now().UTC().Format(time.RFC3339)})
	runtimePath := filepath.Join(n.cfg.DataDir, RuntimeFile)
	if err := os.WriteFile(runtimePath, rt, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", runtimePath, err)
	}
	defer os.Remove(runtimePath)

	if n.cfg.Genesis != "" {
		if err := n.startFederation(url); err != nil {
			ln.Close()
			adminLn.Close()
			return err
		}
		defer func() {
			if err := n.fed.Load().Shutdown(); err != nil {
				n.log.Warn("leaving the federation", "err", err)
			}
		}()
		kctx, stopKeys := context.WithCancel(ctx)
		keysDone := make(chan struct{})
		go func() {
			defer close(keysDone)
			n.runKeyHousekeeping(kctx, n.fed.Load())
		}()
		feedDone := make(chan struct{})
		go func() {
			defer close(feedDone)
			n.runAlertCopier(kctx, n.fed.Load())
		}()
		defer func() { stopKeys(); <-keysDone; <-feedDone }() // runs before the federation shuts down
	}

	// Registered after the federation's shutdown, so it stops first: the consensus list
	// follows the federation's state.
	defer n.StartScreening(ctx)()

	if n.cfg.PprofAddr != "" {
		pl, err := net.Listen("tcp", n.cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("pprof_addr %s: %w", n.cfg.PprofAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		defer ps.Close()
		n.log.Warn("serving the Go profiler", "addr", pl.Addr().String())
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- admin.Serve(adminLn) }()
	n.log.Info("node serving", "state", n.id.State, "api", url, "admin_socket", sockPath, "kid", n.Signer().KID())

	var serveErr error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down: draining in-flight requests", "timeout", n.cfg.ShutdownTimeout)
	case serveErr = <-errc:
		n.log.Error("listener failed", "err", serveErr)
	}
	n.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		n.log.Warn("requests still running at the shutdown timeout were cut off", "err", err)
	}
	_ = admin.Shutdown(sctx)
	_ = os.Remove(sockPath)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// publicHandler puts the steering body's dashboard at /ui/ in front of the API, and sends
// a browser that opens the node's bare address to it.
func (n *Node) publicHandler(apiHandler http.Handler) (http.Handler, error) {
	dash, err := ui.New(n, n.log, ui.Options{State: n.id.State})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", dash)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	mux.Handle("/", apiHandler)
	return mux, nil
}

func listenUnix(path string) (net.Listener, error) {
	// The data directory is 0700, so no other user can reach the socket before the chmod.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// collector exposes the node's own gauges, read at scrape time.
func (n *Node) collector() prometheus.Collector {
	return &nodeCollector{n: n,
		records: prometheus.NewDesc("entente_records", "National records stored (latest versions).", nil, nil),
		ready:   prometheus.NewDesc("entente_ready", "1 when the node serves writes.", nil, nil),
		audit:   prometheus.NewDesc("entente_audit_entries", "Entries in the audit trail.", nil, nil),
	}
}

type nodeCollector struct {
	n                     *Node
	records, ready, audit *prometheus.Desc
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.ready
	ch <- c.audit
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ready := 0.0
	if c.n.ready.Load() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)
	_ = c.n.db.View(func(tx *bbolt.Tx) error {
		if count, err := records.Count(tx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(count))
		}
		if head, ok, err := auditHead(tx); err == nil && ok {
			ch <- prometheus.MustNewConstMetric(c.audit, prometheus.GaugeValue, float64(head))
		}
		return nil
	})
}

func auditHead(tx *bbolt.Tx) (uint64, bool, error) {
	e, ok, err := audit.Head(tx)
	return e.Seq, ok, err
}
