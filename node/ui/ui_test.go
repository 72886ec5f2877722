package ui

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
)

// clock is a test clock that tests move forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// browser is a cookie-keeping client of a dashboard served over TLS, that does not
// follow redirects, so tests see them.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func setup(t *testing.T, o Options) (*fakeNode, *Handler, *browser, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := newFake(clk.now())
	o.State, o.Now = "FRA", clk.now
	h, err := New(f, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return f, h, &browser{t: t, srv: srv, c: c}, clk
}

type reply struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) reply {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) get(path string) reply {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form from this dashboard's origin unless headers say otherwise.
func (b *browser) post(path string, form url.Values, headers map[string]string) reply {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.URL)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", body)
	}
	return m[1]
}

// signIn signs in with token and returns the session's CSRF token.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	r := b.get("/ui/login")
	if r.status != http.StatusOK {
		b.t.Fatalf("sign-in page: %d", r.status)
	}
	r = b.post("/ui/login", url.Values{"csrf": {csrfOf(b.t, r.body)}, "token": {token}}, nil)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("sign-in with %s: %d\n%s", token, r.status, r.body)
	}
	r = b.get("/ui/watchlist")
	if r.status != http.StatusOK {
		return ""
	}
	return csrfOf(b.t, r.body)
}

func TestUISignInSetsAStrictSessionCookie(t *testing.T) {
	_, h, b, _ := setup(t, Options{})
	r := b.get("/ui/watchlist")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/login" {
		t.Fatalf("a page without a session: %d %q, want a redirect to sign in", r.status, r.header.Get("Location"))
	}
	r = b.get("/ui/login")
	csrf := csrfOf(t, r.body)
	// A wrong token: 401, and the token is not echoed back.
	r = b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {"not-a-token-SECRET123"}}, nil)
	if r.status != http.StatusUnauthorized || strings.Contains(r.body, "SECRET123") {
		t.Fatalf("a wrong token: %d, echoed=%v", r.status, strings.Contains(r.body, "SECRET123"))
	}
	csrf = csrfOf(t, r.body)
	r = b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {"tok-steering"}}, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", r.status, r.body)
	}
	var cookie string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			cookie = c
		}
	}
	for _, want := range []string{"Path=/ui/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	id := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], sessionCookie+"=")
	if len(id) != 43 { // 256 bits, base64url without padding
		t.Errorf("session id is %d characters, want 43 (256 random bits)", len(id))
	}
	if strings.Contains(cookie, "tok-steering") {
		t.Error("the session cookie carries the token")
	}
	if h.sess.count() != 1 {
		t.Errorf("%d sessions, want 1", h.sess.count())
	}
	r = b.get("/ui/watchlist")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Qeshm Gyro Trading") {
		t.Fatalf("watchlist after sign-in: %d", r.status)
	}
	if strings.Contains(r.body, "tok-steering") {
		t.Error("the page renders the token")
	}
	// Sign out: the session is gone on the server, not only in the browser.
	r = b.post("/ui/logout", url.Values{"csrf": {csrfOf(t, r.body)}}, nil)
	if r.status != http.StatusSeeOther || h.sess.count() != 0 {
		t.Fatalf("sign-out: %d, %d sessions left", r.status, h.sess.count())
	}
	if r := b.get("/ui/watchlist"); r.status != http.StatusSeeOther {
		t.Fatalf("a page after sign-out: %d", r.status)
	}
}

func TestUISignInFormNeedsItsCSRFToken(t *testing.T) {
	_, h, b, _ := setup(t, Options{})
	b.get("/ui/login")
	for name, c := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"no token":       {url.Values{"token": {"tok-steering"}}, nil},
		"wrong token":    {url.Values{"token": {"tok-steering"}, "csrf": {"forged"}}, nil},
		"foreign origin": {url.Values{"token": {"tok-steering"}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		if r := b.post("/ui/login", c.form, c.headers); r.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.status)
		}
	}
	if h.sess.count() != 0 {
		t.Fatalf("a refused sign-in made %d sessions", h.sess.count())
	}
}

func TestUISecurityHeaders(t *testing.T) {
	_, _, b, _ := setup(t, Options{})
	b.signIn("tok-steering")
	for _, path := range []string{"/ui/login", "/ui/watchlist", "/ui/nope"} {
		r := b.get(path)
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") {
			t.Errorf("%s: the page has inline script or style, which the CSP forbids", path)
		}
	}
	if r := b.get("/ui/static/style.css"); r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

func TestUIFormWithoutCSRFTokenIsRefused(t *testing.T) {
	f, _, b, _ := setup(t, Options{})
	csrf := b.signIn("tok-steering")
	path := "/ui/watchlist/DEU-2/vote"
	for name, c := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"no token":              {url.Values{"position": {"endorse"}}, nil},
		"wrong token":           {url.Values{"position": {"endorse"}, "csrf": {"x" + csrf[1:]}}, nil},
		"foreign origin":        {url.Values{"position": {"endorse"}, "csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
		"no origin or referer":  {url.Values{"position": {"endorse"}, "csrf": {csrf}}, map[string]string{"Origin": ""}},
		"foreign referer alone": {url.Values{"position": {"endorse"}, "csrf": {csrf}}, map[string]string{"Origin": "", "Referer": "https://evil.example/ui/"}},
	} {
		if r := b.post(path, c.form, c.headers); r.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.status)
		}
	}
	if n := f.voteCount(); n != 0 {
		t.Fatalf("refused forms cast %d votes", n)
	}
	// The same form with the session's token and a same-origin Referer goes through.
	r := b.post(path, url.Values{"position": {"object"}, "blocking": {"on"}, "reason": {"diverted before"}, "marking": {"REL TO STEERING"}, "csrf": {csrf}},
		map[string]string{"Origin": "", "Referer": b.srv.URL + "/ui/watchlist/DEU-2"})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/ui/watchlist/DEU-2?recorded=") {
		t.Fatalf("a valid vote: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if f.voteCount() != 1 || f.votes[0].Position != "object" || !f.votes[0].Blocking || f.votes[0].Marking != "REL TO STEERING" {
		t.Fatalf("votes cast: %+v", f.votes)
	}
	// A CSRF token from another session does not work in this one.
	_, _, other, _ := setup(t, Options{})
	otherCSRF := other.signIn("tok-steering")
	if r := b.post(path, url.Values{"position": {"endorse"}, "csrf": {otherCSRF}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("another session's token: %d", r.status)
	}
}

func TestUISessionExpires(t *testing.T) {
	_, h, b, clk := setup(t, Options{IdleTimeout: 10 * time.Minute, MaxAge: time.Hour})
	b.signIn("tok-steering")
	clk.advance(9 * time.Minute)
	if r := b.get("/ui/watchlist"); r.status != http.StatusOK {
		t.Fatalf("within the idle timeout: %d", r.status)
	}
	clk.advance(11 * time.Minute)
	r := b.get("/ui/watchlist")
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "ended=expired") {
		t.Fatalf("after the idle timeout: %d %q", r.status, r.header.Get("Location"))
	}
	if h.sess.count() != 0 {
		t.Fatal("the expired session is still held")
	}
	// Absolute expiry: active every few minutes, still ended after MaxAge.
	b.signIn("tok-steering")
	for range 12 {
		clk.advance(5 * time.Minute)
		if r := b.get("/ui/watchlist"); r.status != http.StatusOK {
			t.Fatalf("an active session within its maximum age: %d", r.status)
		}
	}
	clk.advance(5 * time.Minute)
	if r := b.get("/ui/watchlist"); r.status != http.StatusSeeOther {
		t.Fatalf("after the absolute expiry: %d", r.status)
	}
}

func TestUIRevokedTokenEndsTheSession(t *testing.T) {
	f, h, b, _ := setup(t, Options{})
	csrf := b.signIn("tok-steering")
	f.revoke("tok-steering")
	r := b.get("/ui/watchlist")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/login?ended=revoked" {
		t.Fatalf("after revocation: %d %q", r.status, r.header.Get("Location"))
	}
	if h.sess.count() != 0 {
		t.Fatal("the session outlived its token")
	}
	if r := b.post("/ui/watchlist/DEU-2/vote", url.Values{"position": {"endorse"}, "csrf": {csrf}}, nil); r.status != http.StatusForbidden || f.voteCount() != 0 {
		t.Fatalf("a vote after revocation: %d, %d votes", r.status, f.voteCount())
	}
	if r := b.get("/ui/login?ended=revoked"); !strings.Contains(r.body, "revoked") {
		t.Fatal("the sign-in page does not say why the session ended")
	}
}

func TestUIRoleDecidesPagesAndForms(t *testing.T) {
	f, _, b, _ := setup(t, Options{})
	csrf := b.signIn("tok-integrator")
	r := b.get("/ui/watchlist")
	if !strings.Contains(r.body, `href="/ui/watchlist"`) || strings.Contains(r.body, `href="/ui/health"`) || strings.Contains(r.body, `href="/ui/audit"`) {
		t.Fatal("the integrator's menu should list the watchlist and neither health nor audit")
	}
	for _, p := range []string{"/ui/health", "/ui/audit", "/ui/policy"} {
		if r := b.get(p); r.status != http.StatusForbidden {
			t.Errorf("integrator GET %s: %d, want 403", p, r.status)
		}
	}
	if r := b.get("/ui/watchlist/DEU-2"); r.status != http.StatusOK || strings.Contains(r.body, `action="/ui/watchlist/DEU-2/vote"`) {
		t.Fatalf("integrator sees the vote form: %d", r.status)
	}
	if r := b.get("/ui/nominations"); strings.Contains(r.body, "/vote") {
		t.Fatal("integrator sees vote forms on the nominations page")
	}
	if r := b.post("/ui/watchlist/DEU-2/vote", url.Values{"position": {"endorse"}, "csrf": {csrf}}, nil); r.status != http.StatusForbidden || f.voteCount() != 0 {
		t.Fatalf("integrator vote: %d, %d votes", r.status, f.voteCount())
	}

	_, _, st, _ := setup(t, Options{})
	st.signIn("tok-steering")
	if r := st.get("/ui/watchlist/DEU-2"); !strings.Contains(r.body, `action="/ui/watchlist/DEU-2/vote"`) {
		t.Fatal("steering does not see the vote form")
	}
	if r := st.get("/ui/audit"); r.status != http.StatusForbidden {
		t.Fatalf("steering GET /ui/audit: %d, want 403", r.status)
	}
	_, _, au, _ := setup(t, Options{})
	au.signIn("tok-auditor")
	if r := au.get("/ui/audit"); r.status != http.StatusOK || !strings.Contains(r.body, "audit chain is intact") {
		t.Fatalf("auditor GET /ui/audit: %d", r.status)
	}
	if r := au.get("/ui/watchlist"); r.status != http.StatusForbidden {
		t.Fatalf("auditor GET /ui/watchlist: %d, want 403", r.status)
	}
}

func TestUISealedFieldShowsAsSealed(t *testing.T) {
	_, _, b, _ := setup(t, Options{})
	b.signIn("tok-steering")
	r := b.get("/ui/watchlist/FRA-1")
	// The rationale is sealed for this reader: shown as sealed with its marking.
	if !regexp.MustCompile(`<dt>Rationale</dt><dd id="rationale"><span class="sealed"[^>]*>Sealed <span class="marking">REL TO DEU,FRA</span>`).MatchString(r.body) {
		t.Fatalf("the sealed rationale is not shown as sealed with its marking:\n%s", r.body)
	}
	// A sealed party: its name shows as sealed in the list, never as empty.
	r = b.get("/ui/watchlist")
	if !regexp.MustCompile(`<a href="/ui/watchlist/GBR-3"><span class="sealed"[^>]*>Sealed <span class="marking">REL TO GBR,DEU</span>`).MatchString(r.body) {
		t.Fatalf("the sealed party is not shown as sealed:\n%s", r.body)
	}
	// Every vote with its verified signature.
	r = b.get("/ui/watchlist/FRA-1")
	if !strings.Contains(r.body, "✔ verified") || !strings.Contains(r.body, "eyJhbGciOiJFZERTQSJ9..c2lnbmF0dXJl") {
		t.Fatal("the vote's signature is not shown as verified")
	}
}

func TestUIHostileInputIsEscapedAndBounded(t *testing.T) {
	f, _, b, _ := setup(t, Options{MaxBodyBytes: 1024})
	csrf := b.signIn("tok-steering")
	r := b.get("/ui/watchlist?q=%3Cscript%3Ealert(2)%3C%2Fscript%3E")
	if strings.Contains(r.body, "<script>alert(2)") || !strings.Contains(r.body, "&lt;script&gt;alert(2)") {
		t.Fatal("the search text is not escaped")
	}
	r = b.get("/ui/watchlist")
	if strings.Contains(r.body, "<script>alert(1)") || !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; Holdings") {
		t.Fatal("a party name with markup is not escaped")
	}
	// An oversized body: 413, nothing cast.
	big := url.Values{"position": {"endorse"}, "csrf": {csrf}, "reason": {strings.Repeat("x", 4096)}}
	if r := b.post("/ui/watchlist/DEU-2/vote", big, nil); r.status != http.StatusRequestEntityTooLarge || f.voteCount() != 0 {
		t.Fatalf("an oversized form: %d, %d votes", r.status, f.voteCount())
	}
	// A position that is not one: 400, nothing cast.
	if r := b.post("/ui/watchlist/DEU-2/vote", url.Values{"position": {"<b>"}, "csrf": {csrf}}, nil); r.status != http.StatusBadRequest || f.voteCount() != 0 {
		t.Fatalf("a bad position: %d", r.status)
	}
	// A marking outside the offered list: 400.
	if r := b.post("/ui/watchlist/DEU-2/vote", url.Values{"position": {"object"}, "reason": {"r"}, "marking": {"NATIONAL"}, "csrf": {csrf}}, nil); r.status != http.StatusBadRequest || f.voteCount() != 0 {
		t.Fatalf("a bad marking: %d", r.status)
	}
	// Script in the sign-in token is neither run nor echoed.
	b2 := &browser{t: t, srv: b.srv, c: b.c}
	lr := b2.get("/ui/login")
	r = b2.post("/ui/login", url.Values{"csrf": {csrfOf(t, lr.body)}, "token": {"<script>x</script>"}}, nil)
	if strings.Contains(r.body, "<script>x") || strings.Contains(r.body, "&lt;script&gt;x") {
		t.Fatal("the sign-in page echoes the token")
	}
}

func TestUISessionsAreBounded(t *testing.T) {
	_, h, _, _ := setup(t, Options{MaxSessions: 3})
	for range 10 {
		h.sess.create("tok-steering")
	}
	if n := h.sess.count(); n != 3 {
		t.Fatalf("%d sessions held, want at most 3", n)
	}
}

func TestUIPagesRender(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	f.addAlert("delisted", "watchlist/FRA-1", clk.now().Add(-time.Minute))
	b.signIn("tok-officer")
	for path, want := range map[string]string{
		"/ui/nominations":                 "1</strong> of the <strong>2</strong> needed", // FRA's own nomination is not counted for DEU-2
		"/ui/disputes":                    "No nomination is disputed",
		"/ui/risk":                        "▲ CAF",
		"/ui/review":                      "Median time from nomination to listing",
		"/ui/health":                      "FRA</strong> holds the chair",
		"/ui/policy":                      "a majority of the voters",
		"/ui/alerts":                      "watchlist/FRA-1",
		"/ui/watchlist?code=ML4":          "1 of 3 entries match",
		"/ui/watchlist?country=SYR":       "1 of 3 entries match",
		"/ui/watchlist?q=qgt":             "Qeshm Gyro Trading",
		"/ui/watchlist?regime=UN+1718":    "1 of 3 entries match",
		"/ui/watchlist?origin=GBR":        "1 of 3 entries match",
		"/ui/watchlist?status=nominated":  "2 of 3 entries match",
		"/ui/watchlist?kind=denied-party": "2 of 3 entries match",
	} {
		r := b.get(path)
		if r.status != http.StatusOK || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, want %q in the page:\n%s", path, r.status, want, r.body)
		}
	}
	if r := b.get("/ui/watchlist/NOPE"); r.status != http.StatusNotFound {
		t.Errorf("an unknown entry: %d", r.status)
	}
}

func TestUIAlertStreamFollowsTheFeedAndEndsWithTheToken(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	b.signIn("tok-steering")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/ui/alerts/stream?after=0", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	next := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("stream ended before %q: %v", prefix, lines.Err())
		return ""
	}
	f.addAlert("listed", "watchlist/FRA-1", clk.now())
	if l := next("data: "); !strings.Contains(l, `"kind":"listed"`) || !strings.Contains(l, `"href":"/ui/watchlist/FRA-1"`) {
		t.Fatalf("first event: %s", l)
	}
	f.revoke("tok-steering")
	f.addAlert("objection", "watchlist/DEU-2", clk.now())
	if l := next("event: "); l != "event: ended" {
		t.Fatalf("after revocation the stream sent %q, want the ended event", l)
	}
}

func TestUILastSeqFindsTheNewestAlert(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 64, 65, 1000} {
		f := newFake(time.Now())
		for range n {
			f.alerts = append(f.alerts, api.AlertView{Seq: uint64(len(f.alerts) + 1), Kind: "listed"})
		}
		h, err := New(f, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.lastSeq(f.tokens["tok-steering"])
		if err != nil || got != uint64(n) {
			t.Errorf("%d alerts: lastSeq %d, %v", n, got, err)
		}
	}
}

// TestUIHealthShowsWhenTheChairPassesOn: when the chair's node says when its period
// began, the page gives the exact time the chair passes on; otherwise it gives an upper
// bound, counted from when the dashboard first saw the chair.
func TestUIHealthShowsWhenTheChairPassesOn(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	b.signIn("tok-steering")
	if r := b.get("/ui/health"); !strings.Contains(r.body, "at the latest") || strings.Contains(r.body, "has held the chair since") {
		t.Fatalf("without the chair's own word the page must give an upper bound:\n%s", r.body)
	}
	f.mu.Lock()
	f.chairSince = clk.now().Add(-2 * time.Minute)
	f.mu.Unlock()
	r := b.get("/ui/health")
	if !strings.Contains(r.body, "It passes to <strong>GBR</strong> at") || !strings.Contains(r.body, "FRA has held the chair since") || strings.Contains(r.body, "at the latest") {
		t.Fatalf("with the chair's own word the page must give the exact time:\n%s", r.body)
	}
}

// TestUIShowsAppealGrounds: an appealed listing shows who appealed and the grounds on the
// disputes page and the entry page, opened where the viewer is cleared and shown as
// sealed with its marking where it is not.
func TestUIShowsAppealGrounds(t *testing.T) {
	f, _, b, clk := setup(t, Options{})
	appealEnds := clk.now().Add(time.Hour)
	f.mu.Lock()
	f.entries[0].Status, f.entries[0].AppealEnds = "appealed", &appealEnds
	f.entries[0].Appeal = &api.AppealView{By: "DEU", At: clk.now().Add(-10 * time.Minute),
		Grounds: api.FieldView{Marking: "REL TO FEDERATION", Value: []byte(`"the <b>listing</b> named the wrong company"`)}}
	f.mu.Unlock()
	b.signIn("tok-steering")
	for _, path := range []string{"/ui/disputes", "/ui/watchlist/FRA-1"} {
		r := b.get(path)
		if !strings.Contains(r.body, "the &lt;b&gt;listing&lt;/b&gt; named the wrong company") || !strings.Contains(r.body, "DEU") {
			t.Fatalf("%s does not show the appeal's grounds, escaped:\n%s", path, r.body)
		}
	}
	f.mu.Lock()
	f.entries[0].Appeal.Grounds = api.FieldView{Marking: "REL TO DEU,GBR", Sealed: true}
	f.mu.Unlock()
	if r := b.get("/ui/disputes"); !strings.Contains(r.body, `Sealed <span class="marking">REL TO DEU,GBR</span>`) {
		t.Fatalf("sealed grounds must show as sealed with their marking:\n%s", r.body)
	}
}
