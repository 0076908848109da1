package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/hub/auth"
)

// buildHub builds the yjshub binary as make build does — without the race detector, whose
// shadow memory a process never gives back, so that its resident memory is the hub's own.
func buildHub(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "yjshub")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A flood of slow, unauthenticated connections — each sends the headers of a 100 kB POST
// /api/v1/cases with a key the hub does not know and then one byte, or nothing at all — does
// not take the hub down: /healthz answers throughout, the connections the hub holds stay
// within its bounds, and when the flood ends the hub's memory comes back near where it was.
func TestAFloodOfSlowConnectionsDoesNotTakeTheHubDown(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes about a minute")
	}
	slowBodies, silent := 2500, 2500
	if v := os.Getenv("YJSHUB_FLOOD_CONNS"); v != "" { // figures for larger floods, by hand
		n, _ := strconv.Atoi(v)
		slowBodies, silent = n/2, n/2
	}
	const maxConns = 512
	dir := t.TempDir()
	_, hash := auth.NewKey()
	clients := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(clients, []byte("clients:\n  - {name: window, role: platform, key_sha256: "+hash+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(buildHub(t), "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--clients", clients,
		"--max-conns", strconv.Itoa(maxConns))
	cmd.Env = append(os.Environ(), "YJSHUB_DATABASE_URL=", "YJSHUB_KAFKA_BROKERS=")
	logs, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("serve's log:\n%s", b)
		}
	})
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	healthy := func() (time.Duration, error) {
		start := time.Now()
		res, err := probe.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", res.StatusCode)
		}
		return time.Since(start), nil
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if _, err := healthy(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not answer /healthz within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 20; i++ { // warm up, so that "before" is a hub that has served
		if _, err := healthy(); err != nil {
			t.Fatal(err)
		}
	}
	before := rssKiB(t, cmd.Process.Pid)

	// Health probes run all through the flood; every one must be answered.
	var probes, failures atomic.Int64
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := healthy()
			probes.Add(1)
			if err != nil {
				failures.Add(1)
				t.Logf("/healthz during the flood: %v", err)
				continue
			}
			if int64(d) > slowest.Load() {
				slowest.Store(int64(d))
			}
		}
	}()

	head := "POST /api/v1/cases HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
		"Authorization: Bearer yjk_not-a-key-of-this-hub\r\nContent-Length: 100000\r\n\r\n{"
	var conns []net.Conn
	dialFailures := 0
	for i := 0; i < slowBodies+silent; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			dialFailures++
			continue
		}
		conns = append(conns, c)
		if i < slowBodies {
			_, _ = io.WriteString(c, head)
		}
	}
	// Hold the flood while forty probes (two seconds of them) go through it.
	for held := probes.Load(); probes.Load() < held+40; {
		time.Sleep(50 * time.Millisecond)
	}
	peak := rssKiB(t, cmd.Process.Pid)
	// Each slow body was answered 401 at once and its connection closed by the hub.
	answered, closed := 0, 0
	for _, c := range conns[:min(slowBodies, len(conns))] {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable:
			answered++
		}
		var ne net.Error
		if _, err := br.ReadByte(); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			closed++ // EOF, or a reset: the hub closed it with the body's byte unread
		}
	}
	// The silent connections the hub still holds: at most its connections and as many again.
	held := 0
	for _, c := range conns[min(slowBodies, len(conns)):] {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); errors.As(err, &ne) && ne.Timeout() {
			held++
		}
	}
	during := rssKiB(t, cmd.Process.Pid)
	for _, c := range conns {
		c.Close()
	}
	close(stop)
	wg.Wait()

	// Once the flood is over the hub gives its memory back: wait (bounded) for it.
	after := rssKiB(t, cmd.Process.Pid)
	// Within a quarter of where it was, and within half of what the flood added, plus 1 MiB: the
	// hub returns what a flood took, not only keeps it small.
	limit := min(before+before/4+4<<10, before+(peak-before)/2+1<<10)
	for deadline := time.Now().Add(90 * time.Second); after > limit && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		after = rssKiB(t, cmd.Process.Pid)
	}
	t.Logf("flood: %d connections opened (%d failed to connect): %d slow bodies, %d silent", len(conns), dialFailures, slowBodies, silent)
	t.Logf("slow bodies answered at once: %d (401, 429 or 503), closed by the hub: %d", answered, closed)
	t.Logf("silent connections the hub still held at the end: %d (bound %d)", held, 2*maxConns)
	t.Logf("/healthz: %d probes, %d failed, slowest %v", probes.Load(), failures.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	t.Logf("RSS: before %d KiB, at the flood's peak %d KiB, while held %d KiB, after %d KiB", before, peak, during, after)

	if failures.Load() > 0 || probes.Load() == 0 {
		t.Errorf("/healthz failed %d of %d probes during the flood", failures.Load(), probes.Load())
	}
	if answered < slowBodies*9/10 || closed < slowBodies*9/10 {
		t.Errorf("of %d slow bodies with an unknown key, %d were answered and %d closed by the hub; want (nearly) all", slowBodies, answered, closed)
	}
	if held > 2*maxConns {
		t.Errorf("the hub held %d silent connections, beyond its bound of %d", held, 2*maxConns)
	}
	if after > limit {
		t.Errorf("RSS after the flood %d KiB, want back near the %d KiB before (at most %d)", after, before, limit)
	}
	if _, err := healthy(); err != nil {
		t.Errorf("/healthz after the flood: %v", err)
	}
	// The embedded broker and the store came through it: the hub is ready.
	res, err := probe.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz after the flood: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the flood: %d %s; want the store and the broker reachable", res.StatusCode, body)
	}
}
