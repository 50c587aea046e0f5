package e2e

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stopline/stopline/internal/app"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/pgtest"
	"github.com/stopline/stopline/internal/testkit"
	"github.com/stopline/stopline/workflows"
)

// TestDevUIDecodesPayloads opens a journey in the -dev UI in headless
// Chromium: the UI decodes the input through the codec server and shows
// the phone number. A second UI on the same server without the codec
// endpoint shows only the encrypted payload.
func TestDevUIDecodesPayloads(t *testing.T) {
	chromium := chromiumPath(t)
	a, codecUI := startDev(t)
	plainUI, err := a.Dev.StartUI(freeAddr(t), "")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	csv := "phone,first_name,code\n" + zoltana + "," + zoltanaName + ",4821\n"
	sum, err := launch.Run(ctx, strings.NewReader(csv), launch.Options{RunID: "ui", Journey: testkit.MustJourney(privacyJourney), Region: "US", Keyer: a.Keyer},
		launch.TemporalStarter{Client: a.Temporal, TaskQueue: workflows.TaskQueue})
	if err != nil || sum.Started != 1 {
		t.Fatalf("launch: %+v, %v", sum, err)
	}
	id := workflows.JourneyID("ui", a.Keyer.Key(zoltana))
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	page := "/namespaces/default/workflows/" + url.PathEscape(id) + "/" + desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() + "/history"

	browser := newBrowser(ctx, t, chromium)
	for _, tt := range []struct {
		name, ui string
		decoded  bool
	}{
		{"with the codec endpoint", codecUI, true},
		{"without the codec endpoint", plainUI, false},
	} {
		// The history is shown once its last event (the wait's timer) is.
		text, shot := openPage(browser, t, "http://"+tt.ui+page, tt.name, func(text string) bool {
			return strings.Contains(text, "Timer Started") && (!tt.decoded || strings.Contains(text, zoltana))
		})
		t.Logf("%s: screenshot %s", tt.name, shot)
		if !strings.Contains(text, "Timer Started") {
			t.Fatalf("%s: the journey's history did not show; page text:\n%s", tt.name, text)
		}
		for _, s := range []string{zoltana, `"run_id"`} {
			if got := strings.Contains(text, s); got != tt.decoded {
				t.Errorf("%s: %s shown = %v, want %v", tt.name, s, got, tt.decoded)
			}
		}
	}
}

// startDev starts `worker -dev` with its UI (and the codec endpoint) on a
// free address.
func startDev(t *testing.T) (*app.App, string) {
	ui := freeAddr(t)
	a, err := app.Start(context.Background(), app.Config{
		Dev: true, UIAddr: ui, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		DatabaseURL: pgtest.NewDatabase(t), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a, ui
}

// chromiumPath finds Debian's chromium, which .ci/run installs.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install -y chromium; .ci/run does it)")
	return ""
}

func newBrowser(ctx context.Context, t *testing.T, chromium string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1400, 1800),
		chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if _, err := chromedp.Run(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// openPage loads url in a new tab, polls its text until done holds (or 30
// seconds pass), and saves a screenshot in the test's temp dir.
func openPage(browser context.Context, t *testing.T, url, name string, done func(string) bool) (string, string) {
	t.Helper()
	return drivePage(browser, t, url, name, done, nil)
}

// drivePage is openPage that calls act on the tab at each poll until done
// holds, to drive the page (pick, press) as an operator does.
func drivePage(browser context.Context, t *testing.T, url, name string, done func(string) bool, act func(tab context.Context)) (string, string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	if _, err := chromedp.Run(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: open %s: %v", name, url, err)
	}
	innerText := chromedp.Evaluate[string](`document.body.innerText`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if text, err := chromedp.Run(tab, innerText); err == nil && done(text) {
			break
		}
		if act != nil {
			act(tab)
		}
	}
	time.Sleep(time.Second) // let late decodes land before judging
	text, _ := chromedp.Run(tab, innerText)
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(name, " ", "-")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return text, path
}
