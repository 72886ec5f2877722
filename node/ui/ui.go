package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Cookie names. Both are HttpOnly, SameSite=Strict, limited to /ui/, and Secure when the
// node serves TLS.
const (
	sessionCookie = "entente_ui_session"
	// loginCookie carries the sign-in form's CSRF token before there is a session.
	loginCookie = "entente_ui_login"
)

// DefaultMaxBodyBytes bounds a dashboard form. The largest is a vote with its reason.
const DefaultMaxBodyBytes = 16 << 10

// maxReason bounds a vote's reason, in characters.
const maxReason = 2000

// Options configure the dashboard.
type Options struct {
	// State is the ISO 3166-1 alpha-3 code of this node's state, shown on every page.
	State string
	// MaxBodyBytes bounds a form body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// IdleTimeout, MaxAge and MaxSessions bound sessions; zero means the defaults.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	MaxSessions int
	// Now is the clock; nil means time.Now. Tests move it to expire sessions.
	Now func() time.Time
}

// Handler serves the dashboard under /ui/.
type Handler struct {
	svc     Service
	log     *slog.Logger
	opts    Options
	mux     *http.ServeMux
	sess    *sessions
	pages   map[string]*template.Template
	static  fs.FS
	version string

	chairMu    sync.Mutex
	chair      string
	chairSince time.Time
}

// New builds the dashboard over svc.
func New(svc Service, log *slog.Logger, o Options) (*Handler, error) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, log: log, opts: o, mux: http.NewServeMux(),
		sess: newSessions(o.IdleTimeout, o.MaxAge, o.MaxSessions, o.Now), pages: map[string]*template.Template{}}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	h.static = static
	h.version = assetVersion(static)
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /ui/static/{file}", h.serveStatic)
	m.HandleFunc("GET /ui/login", h.loginForm)
	m.HandleFunc("POST /ui/login", h.login)
	m.Handle("POST /ui/logout", h.form("", h.logout))
	m.Handle("GET /ui/{$}", h.page("", h.home))
	m.Handle("GET /ui/watchlist", h.page(policy.ActWatchlistRead, h.watchlist))
	m.Handle("GET /ui/watchlist/{id}", h.page(policy.ActWatchlistRead, h.entry))
	m.Handle("POST /ui/watchlist/{id}/vote", h.form(policy.ActWatchlistVote, h.vote))
	m.Handle("GET /ui/nominations", h.page(policy.ActWatchlistRead, h.nominations))
	m.Handle("GET /ui/disputes", h.page(policy.ActWatchlistRead, h.disputes))
	m.Handle("GET /ui/risk", h.page(policy.ActWatchlistRead, h.risk))
	m.Handle("GET /ui/alerts", h.page(policy.ActAlertRead, h.alerts))
	m.Handle("GET /ui/alerts/stream", h.page(policy.ActAlertRead, h.alertStream))
	m.Handle("GET /ui/health", h.page(policy.ActFederationRead, h.health))
	m.Handle("GET /ui/review", h.page(policy.ActWatchlistRead, h.review))
	m.Handle("GET /ui/audit", h.page(policy.ActAuditRead, h.audit))
	m.Handle("GET /ui/policy", h.page(policy.ActFederationRead, h.policyPage))
	m.Handle("POST /ui/policy/proposals/{id}/vote", h.form(policy.ActMembership, h.policyVote))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
}

// ServeHTTP sets the security headers every dashboard response carries, then serves r.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}

// nav is the dashboard's menu; a page appears only for roles that may see it.
var nav = []struct {
	Path, Label string
	Action      policy.Action
}{
	{"/ui/watchlist", "Watchlist", policy.ActWatchlistRead},
	{"/ui/nominations", "Nominations", policy.ActWatchlistRead},
	{"/ui/disputes", "Disputes and appeals", policy.ActWatchlistRead},
	{"/ui/risk", "Risk indicators", policy.ActWatchlistRead},
	{"/ui/alerts", "Alerts", policy.ActAlertRead},
	{"/ui/review", "Joint review", policy.ActWatchlistRead},
	{"/ui/health", "Federation health", policy.ActFederationRead},
	{"/ui/audit", "Audit trail", policy.ActAuditRead},
	{"/ui/policy", "Policy", policy.ActFederationRead},
}

type navItem struct {
	Path, Label string
	Current     bool
}

// pageData is what the layout needs; Body is the page's own view.
type pageData struct {
	Title     string
	State     string
	Principal *access.Principal
	Nav       []navItem
	CSRF      string
	Notice    string
	Error     string
	Version   string
	Now       time.Time
	Body      any
}

// page wraps a GET handler: it finds the session, authenticates its token again, and
// checks the role may perform action (empty: any signed-in role).
func (h *Handler) page(action policy.Action, fn func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		v, ended := h.viewer(w, r)
		if v == nil {
			u := "/ui/login"
			if ended != "" {
				u += "?ended=" + url.QueryEscape(ended)
			}
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
		if action != "" && !v.p.Allowed(action) {
			h.renderError(w, r, v, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not see this page.", v.p.Role))
			return
		}
		fn(w, r, v)
	})
}

// form wraps a POST handler. Before anything changes it bounds the body, checks that the
// request comes from this origin, that a session is signed in and its token still
// authenticates, that the form's CSRF token is the session's, and that the role may
// perform action. Any failure is refused with 403 (413 for an oversized body).
func (h *Handler) form(action policy.Action, fn func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !h.readForm(w, r) {
			return
		}
		if !sameOrigin(r) {
			h.renderError(w, r, nil, http.StatusForbidden, "The form did not come from this dashboard, so it was refused. Nothing was changed.")
			return
		}
		v, _ := h.viewer(w, r)
		if v == nil {
			h.renderError(w, r, nil, http.StatusForbidden, "You are not signed in (or your session has ended), so the form was refused. Nothing was changed.")
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), v.se.csrf) {
			h.renderError(w, r, v, http.StatusForbidden, "The form's security token is missing or out of date, so it was refused. Nothing was changed: reload the page and try again.")
			return
		}
		if action != "" && !v.p.Allowed(action) {
			h.renderError(w, r, v, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not do this. Nothing was changed.", v.p.Role))
			return
		}
		fn(w, r, v)
	})
}

// readForm parses a bounded urlencoded body.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength > h.opts.MaxBodyBytes {
		h.renderError(w, r, nil, http.StatusRequestEntityTooLarge, "The form is larger than this dashboard accepts. Nothing was changed.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.renderError(w, r, nil, http.StatusRequestEntityTooLarge, "The form is larger than this dashboard accepts. Nothing was changed.")
		} else {
			h.renderError(w, r, nil, http.StatusBadRequest, "The form could not be read. Nothing was changed.")
		}
		return false
	}
	return true
}

// sameOrigin reports whether a state-changing request names this dashboard's origin in
// Origin or, failing that, Referer. A request with neither is refused: every browser
// this dashboard supports sends Origin with a form POST.
func sameOrigin(r *http.Request) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	want := scheme + "://" + r.Host
	if o := r.Header.Get("Origin"); o != "" {
		return o == want
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return false
	}
	u, err := url.Parse(ref)
	return err == nil && u.Scheme+"://"+u.Host == want
}

// viewer returns the request's signed-in caller, or nil with why a session ended when
// its token no longer authenticates.
func (h *Handler) viewer(w http.ResponseWriter, r *http.Request) (*viewer, string) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, ""
	}
	se, ok := h.sess.get(c.Value)
	if !ok {
		h.clearCookie(w, r, sessionCookie)
		return nil, "expired"
	}
	p, err := h.svc.Authenticate(se.token)
	if err != nil {
		h.sess.end(c.Value)
		h.clearCookie(w, r, sessionCookie)
		return nil, tokenEnded(err)
	}
	return &viewer{id: c.Value, se: se, p: p}, ""
}

// tokenEnded names, for the sign-in page, why a session's token stopped working.
func tokenEnded(err error) string {
	switch {
	case errors.Is(err, access.ErrRevoked):
		return "revoked"
	case errors.Is(err, jws.ErrExpired):
		return "token-expired"
	default:
		return "invalid"
	}
}

var endedText = map[string]string{
	"revoked":       "Your session ended because its token was revoked.",
	"token-expired": "Your session ended because its token expired.",
	"invalid":       "Your session ended because its token is no longer accepted.",
	"expired":       "Your session has expired. Please sign in again.",
	"signed-out":    "You have signed out.",
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// loginForm shows the sign-in form with a fresh CSRF token in a cookie and the form.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.renderLogin(w, r, http.StatusOK, endedText[r.URL.Query().Get("ended")], "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, notice, problem string) {
	w.Header().Set("Cache-Control", "no-store")
	tok := randomToken()
	h.setCookie(w, r, loginCookie, tok, time.Hour)
	h.render(w, r, status, "login", pageData{Title: "Sign in", CSRF: tok, Notice: notice, Error: problem})
}

// login exchanges a bearer token for a session. The token is authenticated exactly as
// the API would; it is never echoed back, logged, or stored outside this process.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.readForm(w, r) {
		return
	}
	c, err := r.Cookie(loginCookie)
	if !sameOrigin(r) || err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		h.renderError(w, r, nil, http.StatusForbidden, "The sign-in form did not come from this dashboard or has expired, so it was refused. Reload the sign-in page and try again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if _, err := h.svc.Authenticate(token); err != nil {
		h.renderLogin(w, r, http.StatusUnauthorized, "", "The token was not accepted: "+tokenProblem(err)+".")
		return
	}
	id, _ := h.sess.create(token)
	h.clearCookie(w, r, loginCookie)
	h.setCookie(w, r, sessionCookie, id, h.opts.MaxAge)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// tokenProblem says what was wrong with a token without echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, access.ErrNoToken):
		return "no token was entered"
	case errors.Is(err, access.ErrRevoked):
		return "it was revoked"
	case errors.Is(err, jws.ErrExpired):
		return "it has expired"
	case errors.Is(err, jws.ErrNotYetValid):
		return "it is not valid yet"
	case errors.Is(err, jws.ErrAudience):
		return "it was issued for another node"
	default:
		return "it is not a token this node issued"
	}
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.sess.end(v.id)
	h.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/ui/login?ended=signed-out", http.StatusSeeOther)
}

// home sends the caller to the first page its role may see.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, v *viewer) {
	for _, n := range nav {
		if v.p.Allowed(n.Action) {
			http.Redirect(w, r, n.Path, http.StatusSeeOther)
			return
		}
	}
	h.renderError(w, r, v, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not see any page of this dashboard.", v.p.Role))
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	// Asset URLs carry the assets' hash, so a new binary's assets are fetched afresh.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b)
}

// render executes page into a buffer first, so that a template error is a clean 500
// rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	t, ok := h.pages[page]
	if !ok {
		h.log.Error("dashboard: no such template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d.State, d.Version = h.opts.State, h.version
	if d.Now.IsZero() {
		d.Now = h.opts.Now().UTC()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("dashboard: rendering a page failed", "page", page, "err", err)
		http.Error(w, "The dashboard hit an internal error; the node's log has the detail.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// show renders a signed-in page with the layout's menu.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, v *viewer, status int, page, title string, body any, notice, problem string) {
	d := pageData{Title: title, Body: body, Notice: notice, Error: problem}
	if v != nil {
		p := v.p
		d.Principal, d.CSRF = &p, v.se.csrf
		for _, n := range nav {
			if p.Allowed(n.Action) {
				d.Nav = append(d.Nav, navItem{Path: n.Path, Label: n.Label, Current: strings.HasPrefix(r.URL.Path, n.Path)})
			}
		}
	}
	h.render(w, r, status, page, d)
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	h.show(w, r, v, status, "error", http.StatusText(status), nil, "", msg)
}

// serviceError shows an error from the node: an API error's message and hint, which are
// written for the caller; anything else is logged and summarised.
func (h *Handler) serviceError(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		msg := ae.Msg
		if ae.Hint != "" {
			msg += " (" + ae.Hint + ")"
		}
		status := ae.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		h.renderError(w, r, v, status, "The node could not answer: "+msg+".")
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	h.log.Warn("dashboard: reading from the node failed", "path", r.URL.Path, "err", err)
	h.renderError(w, r, v, http.StatusInternalServerError, "The node could not answer; its log has the detail.")
}
