package transport

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// BenchmarkHandshake measures one dial: TCP connect, mutual TLS 1.3 handshake with ECDSA
// P-256 on both sides, the roster check on both sides and the acceptance byte.
func BenchmarkHandshake(b *testing.B) {
	fraID, deuID := newIdentity(b, "FRA"), newIdentity(b, "DEU")
	r := newRoster(fraID, deuID)
	fra := newPeer(b, fraID, r, fastSettings)
	deu := newPeer(b, deuID, r, fastSettings)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := deu.layer.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	b.Cleanup(func() { _ = deu.layer.Close(); <-done })
	addr := raft.ServerAddress(deu.addr())
	b.ReportAllocs()
	for b.Loop() {
		c, err := fra.layer.Dial(addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}

// BenchmarkAppendEntriesRoundTrip measures one raft AppendEntries RPC carrying a 256-byte
// entry over a pooled connection: encode, TLS, decode, consumer, response.
func BenchmarkAppendEntriesRoundTrip(b *testing.B) {
	fraID, deuID := newIdentity(b, "FRA"), newIdentity(b, "DEU")
	r := newRoster(fraID, deuID)
	fraLog, _ := testLogger(b, "FRA")
	deuLog, _ := testLogger(b, "DEU")
	fra := New(listen(b), fraID.TLS, r, fraLog, Options{})
	deu := New(listen(b), deuID.TLS, r, deuLog, Options{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case rpc := <-deu.Consumer():
				req := rpc.Command.(*raft.AppendEntriesRequest)
				rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, LastLog: req.PrevLogEntry + 1, Success: true}, nil)
			case <-stop:
				return
			}
		}
	}()
	b.Cleanup(func() {
		_ = fra.Close()
		close(stop)
		<-done
		_ = deu.Close()
	})
	target := raft.ServerAddress(deu.LocalAddr())
	req := raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("FRA"), Addr: []byte(fra.LocalAddr())},
		Term:      2,
		Entries:   []*raft.Log{{Index: 1, Term: 2, Type: raft.LogCommand, Data: make([]byte, 256)}},
	}
	var resp raft.AppendEntriesResponse
	b.ReportAllocs()
	for b.Loop() {
		if err := fra.AppendEntries("DEU", target, &req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}
