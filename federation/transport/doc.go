// Package transport is raft's network layer between member states' nodes: raft's own
// NetworkTransport (msgpack RPCs, connection pooling, pipelining) over a stream layer that
// speaks mutual TLS and lets a connection through only if the peer's certificate key pin
// belongs to a current roster member.
//
// The certificates are self-signed (crypto/identity), so there is no chain to validate:
// the pin of the certificate's SubjectPublicKeyInfo is the identity, and the roster in the
// replicated state is the only authority on which pins are members. The roster changes when
// states are admitted or removed, so the Authorizer is asked on every handshake, in both
// directions: a node refuses a client that is not a member (on accept) and a server that is
// not a member (on dial). StreamLayer.Recheck closes established connections of peers that
// have since left the roster.
//
// Wire protocol on the cluster port, named by the ALPN protocol "entente-raft/1":
//
//  1. a TLS 1.3 handshake in which both sides present their certificate and negotiate
//     the ALPN protocol;
//  2. the server, having checked the client's pin, writes one byte (0x01) so that the
//     client knows it was accepted (in TLS 1.3 the client's handshake completes before the
//     server has judged the client's certificate, so without it a refused client would
//     only find out on its first RPC);
//  3. raft's NetworkTransport protocol, unchanged.
//
// Handshakes on accept run in their own goroutines under a deadline and a cap on how many
// may be in progress, so a silent or slow client cannot hold up Accept for real peers.
//
// HCLog adapts a *slog.Logger to the hclog.Logger raft wants, so one slog handler sets one
// format and level for the node and for raft.
package transport
