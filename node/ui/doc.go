// Package ui is the steering body's dashboard, served by the node at /ui/.
//
// Steering-body members are diplomats and senior officials who read the consensus
// watchlist, follow nominations through consultation, decide disputes and appeals and
// report on the joint review; they should not have to read JSON. The dashboard renders
// the same data the signed API serves, on the server, with html/template and inline SVG
// charts, from assets embedded in the binary: no JavaScript framework, no build step,
// and only one small script, for the live alerts timeline.
//
// A browser cannot send a bearer token with every request, so a token pasted into the
// sign-in form is exchanged for a session cookie. The session lives in this process's
// memory only, and the token is authenticated again on every request, so revoking or
// expiring the token ends the session at once. Every form carries a per-session CSRF
// token and is also checked for a same-origin Origin or Referer; what a page shows, and
// which forms it offers, follows the principal's role exactly as the API does.
package ui
