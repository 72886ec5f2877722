package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
	"github.com/entente/entente/testnet"
)

// The steering body's dashboard in a real browser: headless Chromium, driven through the
// DevTools protocol, against a federation of three real node processes. The browser
// signs in, searches the watchlist, sees a sealed field as sealed, casts a vote on one
// node's dashboard and sees it (live, and with its verified signature) on another's, and
// has a form without its CSRF token refused. Every page is saved as a screenshot.

// uiChromium finds a Chromium or Chrome binary on PATH.
func uiChromium() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// uiScreenshots is where screenshots go: ENTENTE_UI_SCREENSHOTS, or the test's own
// temporary directory.
func uiScreenshots(t *testing.T) string {
	dir := os.Getenv("ENTENTE_UI_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// uiBrowser starts headless Chromium with a fresh profile, for a network that is closed.
func uiBrowser(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Tabs share one headless browser: keep the ones not in front rendering.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		// Each test node has its own self-signed certificate, pinned by the CLI; the
		// browser has no pin to check, so certificate errors are accepted here.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Run(browser); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browser
}

// uiTab is one browser tab on one node. Each test node has its own loopback address, so
// each keeps its own session cookie in the one browser profile.
type uiTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func uiOpen(t *testing.T, browser context.Context, base string) *uiTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatal(err)
	}
	return &uiTab{t: t, ctx: ctx, base: base}
}

// run runs actions with a deadline.
func (b *uiTab) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, append([]chromedp.Action{page.BringToFront()}, actions...)...); err != nil {
		var body string
		_ = chromedp.Run(b.ctx, chromedp.Text("body", &body, chromedp.ByQuery))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

// nav loads a page. The machine is shared with tests that change its network (fault
// injection), which Chromium reports as ERR_NETWORK_CHANGED; such a load is tried again.
func nav(url string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		for range 5 {
			if err = chromedp.Navigate(url).Do(ctx); err == nil || !strings.Contains(err.Error(), "ERR_NETWORK_CHANGED") {
				return err
			}
		}
		return err
	})
}

func (b *uiTab) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("reading "+sel, chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return s
}

func (b *uiTab) eval(expr string) bool {
	b.t.Helper()
	var ok bool
	b.run("evaluating "+expr, chromedp.Evaluate(expr, &ok))
	return ok
}

// signIn pastes token into the sign-in form, as a user would.
func (b *uiTab) signIn(token string) {
	b.t.Helper()
	b.run("signing in",
		nav(b.base+"/ui/login"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`button[type="submit"].primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`nav.menu`, chromedp.ByQuery),
	)
}

// shot saves a full-page PNG of path as dir/dashboard-name.png.
func (b *uiTab) shot(dir, name, path, ready string) {
	b.t.Helper()
	var png []byte
	start := time.Now()
	defer func() { b.t.Logf("screenshot of %s took %s", path, time.Since(start).Round(time.Millisecond)) }()
	b.run("screenshot of "+path,
		nav(b.base+path),
		chromedp.WaitVisible(ready, chromedp.ByQuery),
		chromedp.FullScreenshot(&png, 100),
	)
	if err := os.WriteFile(filepath.Join(dir, "dashboard-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// uiEventually polls cond until it holds or d passes.
func uiEventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func uiCall(t *testing.T, net *testnet.Net, i int, role, method, path string, body, out any) {
	t.Helper()
	c, err := net.Client(i, role)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdle()
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = c.JSON(ctx, method, path, body, out)
		cancel()
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "503") {
			break
		}
		time.Sleep(200 * time.Millisecond) // an election is under way
	}
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, net.Nodes[i].State, err)
	}
}

func uiEntry(t *testing.T, net *testnet.Net, i int, id string) api.WatchlistEntry {
	t.Helper()
	var out struct {
		Entry api.WatchlistEntry `json:"entry"`
	}
	uiCall(t, net, i, "analyst", "GET", "/v1/watchlist/"+id, nil, &out)
	return out.Entry
}

func uiNominate(t *testing.T, net *testnet.Net, i int, id, name, rationaleMarking string) {
	t.Helper()
	party, _ := json.Marshal(map[string]any{"type": "organisation", "name": name, "aliases": []string{name + " FZE"}, "countries": []string{"IRN"}})
	req := api.NominationRequest{ID: id, Kind: "denied-party", Party: party, Basis: api.Basis{Regime: "national", ControlCodes: []string{"ML4", "3A001"}},
		Rationale: "canary-" + id + " diverted gyroscopes", Markings: map[string]string{"rationale": rationaleMarking}}
	uiCall(t, net, i, "officer", "POST", "/v1/watchlist/nominations", req, nil)
}

func TestUIDashboardInBrowser(t *testing.T) {
	bin, ok := uiChromium()
	if !ok {
		t.Skip("no Chromium found on PATH (looked for chromium, chromium-browser, google-chrome): the dashboard's browser tests need one (apt-get install chromium)")
	}
	shots := uiScreenshots(t)

	pol := testnet.DemoPolicy()
	pol.Voting.Consultation = policy.Duration(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	net, err := testnet.Up(ctx, testnet.Options{Dir: t.TempDir(), Nodes: 3, FreePorts: true, Policy: &pol, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := net.Down(20 * time.Second); err != nil {
			t.Errorf("stopping the federation: %v", err)
		}
		if t.Failed() {
			for _, n := range net.Nodes {
				t.Logf("---- %s ----\n%s", n.State, lastLines(n.Logs(), 30))
			}
		}
	})
	if _, err := net.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	if err := net.WaitKeyEpochs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := net.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	for i, in := range []api.IndicatorRequest{
		{Kind: "failed-end-use-check", Subject: "IRN", Severity: 3, Evidence: "end user could not be found at the declared address"},
		{Kind: "diversion", Subject: "COD", Severity: 3, Evidence: "second diversion through the same freight forwarder"},
		{Kind: "destination", Subject: "IRN", Severity: 4, Evidence: "procurement network for ballistic missile components"},
	} {
		in.ValidUntil = time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
		uiCall(t, net, i%3, "officer", "POST", "/v1/indicators", in, nil)
	}
	// FRA (0), DEU (1), GBR (2). The sealed nomination's rationale is released to FRA and
	// DEU only: GBR's dashboard must show it sealed.
	uiNominate(t, net, 0, "UI-SEALED", "Kavir Precision Instruments", "REL TO DEU,FRA")
	uiNominate(t, net, 0, "UI-VOTE", "Bandar Abbas Gyro Supply", "REL TO FEDERATION")

	browser := uiBrowser(t, bin)
	gbr := uiOpen(t, browser, net.Nodes[2].URL())
	deu := uiOpen(t, browser, net.Nodes[1].URL())

	step(t, "sign in", func(t *testing.T) {
		gbr.t = t
		gbr.run("the bare address leads to sign-in", nav(gbr.base+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
		gbr.shot(shots, "login", "/ui/login", "#token")
		gbr.signIn(net.Tokens[2]["steering"])
		var loc string
		gbr.run("location", chromedp.Location(&loc))
		if !strings.HasSuffix(loc, "/ui/watchlist") {
			t.Fatalf("after sign-in the browser is at %s, want the watchlist", loc)
		}
		if who := gbr.text(".masthead .who"); !strings.Contains(who, "steering") {
			t.Fatalf("the header says %q, want the steering role", who)
		}
		if gbr.eval(`document.cookie.includes("entente_ui_session")`) {
			t.Fatal("the session cookie is readable from script: it must be HttpOnly")
		}
	})

	step(t, "search the watchlist", func(t *testing.T) {
		gbr.t = t
		gbr.run("searching by alias",
			nav(gbr.base+"/ui/watchlist"),
			chromedp.WaitVisible("#q", chromedp.ByID),
			chromedp.SendKeys("#q", "Allied Democratic Forces", chromedp.ByID),
			chromedp.Submit("#q", chromedp.ByID),
			chromedp.WaitVisible(`a[href="/ui/watchlist/FRA-UN-CDe.001"]`, chromedp.ByQuery),
		)
		if c := gbr.text("#result-count"); !strings.HasPrefix(c, "1 of ") {
			t.Fatalf("the search by alias found %q, want exactly one entry", c)
		}
		if !gbr.eval(`document.querySelectorAll("table.list tbody tr").length === 1`) {
			t.Fatal("the result table does not have exactly one row")
		}
		gbr.run("filtering by originating state",
			nav(gbr.base+"/ui/watchlist?origin=DEU"),
			chromedp.WaitVisible("#result-count", chromedp.ByID),
		)
		if gbr.eval(`[...document.querySelectorAll("table.list tbody tr td:nth-child(6)")].some(td => td.textContent.trim() !== "DEU")`) {
			t.Fatal("the origin filter shows entries from another state")
		}
	})

	step(t, "a sealed field shows as sealed", func(t *testing.T) {
		gbr.t = t
		gbr.run("opening the sealed entry", nav(gbr.base+"/ui/watchlist/UI-SEALED"), chromedp.WaitVisible("#entry-h", chromedp.ByID))
		rationale := gbr.text(`#rationale`)
		if !strings.Contains(rationale, "Sealed") || !strings.Contains(rationale, "REL TO DEU,FRA") {
			t.Fatalf("GBR's dashboard shows the rationale as %q, want it sealed with its marking", rationale)
		}
		var body string
		gbr.run("page text", chromedp.Text("body", &body, chromedp.ByQuery))
		if strings.Contains(body, "canary-UI-SEALED") {
			t.Fatal("GBR's dashboard shows a value not released to GBR")
		}
		// DEU is cleared for it and reads it.
		deu.t = t
		deu.signIn(net.Tokens[1]["steering"])
		deu.run("opening the entry on DEU", nav(deu.base+"/ui/watchlist/UI-SEALED"), chromedp.WaitVisible("#entry-h", chromedp.ByID))
		if r := deu.text(`#rationale`); !strings.Contains(r, "canary-UI-SEALED") {
			t.Fatalf("DEU's dashboard shows the rationale as %q, want the text", r)
		}
	})

	step(t, "a vote on one node appears on another", func(t *testing.T) {
		gbr.t, deu.t = t, t
		// DEU watches its live timeline while GBR votes.
		deu.run("opening DEU's alerts timeline", nav(deu.base+"/ui/alerts"), chromedp.WaitVisible("#timeline", chromedp.ByID))
		uiEventually(t, 10*time.Second, "the timeline to connect", func() (bool, string) {
			return deu.eval(`document.getElementById("live-status").textContent.includes("live")`), "not live yet"
		})
		gbr.run("endorsing from GBR's nominations page",
			nav(gbr.base+"/ui/nominations"),
			chromedp.WaitVisible(`form[action="/ui/watchlist/UI-VOTE/vote"] button[value="endorse"]`, chromedp.ByQuery),
			chromedp.SendKeys(`#reason-UI-VOTE`, "consistent with our own licensing refusals", chromedp.ByQuery),
			chromedp.Click(`form[action="/ui/watchlist/UI-VOTE/vote"] button[value="endorse"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`p.notice`, chromedp.ByQuery),
		)
		if n := gbr.text("p.notice"); !strings.Contains(n, "signed by GBR") {
			t.Fatalf("after voting GBR's page says %q", n)
		}
		// The federation has it: GBR's endorsement is on DEU's replica.
		uiEventually(t, 15*time.Second, "GBR's endorsement on DEU's replica", func() (bool, string) {
			e := uiEntry(t, net, 1, "UI-VOTE")
			for _, v := range e.Votes {
				if v.State == "GBR" && v.Position == "endorse" {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d votes", len(e.Votes))
		})
		// DEU's timeline received it live, without a reload.
		deu.run("the endorsement on DEU's live timeline", chromedp.Poll(
			`[...document.querySelectorAll("#timeline li.new")].some(li => li.textContent.includes("UI-VOTE") && li.textContent.includes("endorsement") && li.textContent.includes("GBR"))`,
			nil, chromedp.WithPollingTimeout(20*time.Second)))
		// DEU's entry page shows the vote with its verified signature.
		deu.run("the vote on DEU's entry page",
			nav(deu.base+"/ui/watchlist/UI-VOTE"),
			chromedp.WaitVisible(`tr.vote-row[data-state="GBR"]`, chromedp.ByQuery),
		)
		row := deu.text(`tr.vote-row[data-state="GBR"]`)
		if !strings.Contains(row, "endorse") || !strings.Contains(row, "✔ verified") || !strings.Contains(row, "consistent with our own licensing refusals") {
			t.Fatalf("DEU shows GBR's vote as %q, want an endorsement with its reason and a verified signature", row)
		}
		// GBR has voted: its page offers no second vote.
		gbr.run("GBR's entry page", nav(gbr.base+"/ui/watchlist/UI-VOTE"), chromedp.WaitVisible("#vote-h", chromedp.ByID))
		if gbr.eval(`document.querySelector('form.vote') !== null`) {
			t.Fatal("GBR is offered a second vote")
		}
	})

	step(t, "a form without its CSRF token is refused", func(t *testing.T) {
		gbr.t = t
		// A form posted to the vote route from the dashboard's own page but without the
		// token, as a forged or stale form would be.
		gbr.run("posting a form without the token",
			nav(gbr.base+"/ui/watchlist/UI-SEALED"),
			chromedp.WaitVisible("#entry-h", chromedp.ByID),
			chromedp.Evaluate(`(() => { const f = document.createElement("form"); f.method = "post"; f.action = "/ui/watchlist/UI-SEALED/vote";
				const i = document.createElement("input"); i.name = "position"; i.value = "object"; f.appendChild(i);
				document.body.appendChild(f); f.submit(); return true; })()`, nil),
			chromedp.WaitVisible(`p.error`, chromedp.ByQuery),
		)
		var title string
		gbr.run("title", chromedp.Title(&title))
		if !strings.HasPrefix(title, "Forbidden") || !strings.Contains(gbr.text("p.error"), "security token") {
			t.Fatalf("the page after a form without its token is %q: %q", title, gbr.text("p.error"))
		}
		for _, v := range uiEntry(t, net, 2, "UI-SEALED").Votes {
			if v.State == "GBR" {
				t.Fatalf("the refused form cast a vote: %+v", v)
			}
		}
	})

	t.Run("screenshots of every page", func(t *testing.T) {
		gbr.t = t
		// Wait for the seeded nominations to be listed, so the pages show a working
		// federation rather than one consultation window.
		uiEventually(t, 60*time.Second, "every consultation to close", func() (bool, string) {
			var out struct {
				Entries []api.WatchlistEntry `json:"entries"`
			}
			uiCall(t, net, 2, "analyst", "GET", "/v1/watchlist?status=nominated", nil, &out)
			return len(out.Entries) == 0, fmt.Sprintf("%d nominations in consultation", len(out.Entries))
		})
		for _, p := range []struct{ name, path, ready string }{
			{"watchlist", "/ui/watchlist", "table.list"},
			{"entry", "/ui/watchlist/UI-VOTE", "#votes-h"},
			{"nominations", "/ui/nominations", "main h1"},
			{"disputes", "/ui/disputes", "#d-h"},
			{"risk", "/ui/risk", "svg.chart"},
			{"alerts", "/ui/alerts", "#timeline li"},
			{"review", "/ui/review", "svg.chart"},
			{"health", "/ui/health", "table.health"},
			{"policy", "/ui/policy", "#sum-h"},
		} {
			gbr.shot(shots, p.name, p.path, p.ready)
		}
		gbr.run("the health page", nav(gbr.base+"/ui/health"), chromedp.WaitVisible("table.health", chromedp.ByQuery))
		if !gbr.eval(`document.querySelectorAll('table.health tbody tr').length === 3 && [...document.querySelectorAll('table.health tbody tr')].every(r => r.textContent.includes("up"))`) {
			t.Fatal("the health page does not show three members up")
		}
		// Last, as it replaces the steering session in the browser's cookie for GBR.
		aud := uiOpen(t, browser, net.Nodes[2].URL())
		aud.signIn(net.Tokens[2]["auditor"])
		aud.shot(shots, "audit", "/ui/audit", "#chain-h")
		if !strings.Contains(aud.text("#chain-h + p"), "intact") {
			t.Fatal("the audit page does not report an intact chain")
		}
		for _, name := range []string{"login", "watchlist", "entry", "nominations", "disputes", "risk", "alerts", "review", "health", "policy", "audit"} {
			st, err := os.Stat(filepath.Join(shots, "dashboard-"+name+".png"))
			if err != nil || st.Size() < 5000 {
				t.Errorf("screenshot %s: %v", name, errors.Join(err, fmt.Errorf("%d bytes", sizeOf(st))))
			}
		}
		t.Logf("screenshots in %s", shots)
	})
}

// step runs one step of a browser session; later steps depend on it, so a failure ends
// the test.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}
