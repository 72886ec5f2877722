package transport

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

const (
	// DefaultMaxPool is how many idle connections raft keeps per peer unless Options says
	// otherwise. Each costs a TLS handshake to make, so keeping a few saves handshakes
	// when replication and heartbeats run at once; it is raft's and Consul's usual figure.
	DefaultMaxPool = 3
	// DefaultTimeout bounds a dial and handshake and each RPC's I/O unless Options says
	// otherwise. Members are far apart (and raft scales it up for snapshots), so it is
	// generous; a dead peer is found by raft's heartbeats long before it matters.
	DefaultTimeout = 10 * time.Second
)

// Options tunes the raft NetworkTransport that New builds. The zero value is sane.
type Options struct {
	// MaxPool is how many idle connections to keep per peer; 0 means DefaultMaxPool.
	MaxPool int
	// Timeout bounds each dial and handshake and each RPC's I/O; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives raft's transport logs; nil means HCLog(log, "raft-net"), so they
	// share the node's slog handler.
	Logger hclog.Logger
}

// New returns raft's NetworkTransport over a mutual-TLS StreamLayer on ln (see
// NewStreamLayer). Closing the transport (raft's Shutdown does) closes the stream layer,
// its listener and all its connections.
func New(ln net.Listener, cert tls.Certificate, auth Authorizer, log *slog.Logger, o Options) *raft.NetworkTransport {
	return NewWithStreamLayer(NewStreamLayer(ln, cert, auth, log), o)
}

// NewWithStreamLayer returns raft's NetworkTransport over s, for a caller that keeps s to
// call Recheck when the roster changes.
func NewWithStreamLayer(s *StreamLayer, o Options) *raft.NetworkTransport {
	if o.MaxPool <= 0 {
		o.MaxPool = DefaultMaxPool
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = HCLog(s.log, "raft-net")
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s,
		MaxPool: o.MaxPool,
		Timeout: o.Timeout,
		Logger:  o.Logger,
	})
}

// NoPipeline wraps t so that raft replicates without pipelining. hashicorp/raft v1.8.0's
// pipelined replication can deadlock (a replication goroutine blocked sending while the
// response decoder waits for a reader that has gone), after which a follower is never
// replicated to again and the node hangs on shutdown; the federation's robustness round
// found it under link faults. Without a pipeline, raft sends one AppendEntries at a time,
// which the batched apply makes up for.
func NoPipeline(t *raft.NetworkTransport) raft.Transport { return noPipeline{t} }

type noPipeline struct{ *raft.NetworkTransport }

// AppendEntriesPipeline tells raft to replicate without a pipeline.
func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}
