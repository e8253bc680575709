// Command syncgate-mocks serves the three mock vendors (Kingdee, Greatonce, Zhilong) on loopback ports
// and prints their base URLs and credentials, one line each, then "mocks ready".
//
// With -debug-listen ADDR (a loopback address such as 127.0.0.1:6061) it also serves net/http/pprof
// under /debug/pprof/ on a listener of its own, for profiling the mocks while a load runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/syncgate/syncgate/mocks/greatonce"
	"github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/zhilong"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "syncgate-mocks:", err)
		os.Exit(1)
	}
}

func run() error {
	kdAddr := flag.String("kingdee-addr", "127.0.0.1:0", "Kingdee mock listen address")
	goAddr := flag.String("greatonce-addr", "127.0.0.1:0", "Greatonce mock listen address")
	zlAddr := flag.String("zhilong-addr", "127.0.0.1:0", "Zhilong mock listen address")
	customers := flag.Int("seed-customers", 0, "Kingdee customers to generate")
	agents := flag.Int("seed-agents", 0, "Zhilong agents to generate")
	seed := flag.Uint64("seed", 1, "generator seed")
	goRate := flag.Float64("greatonce-rate", 0, "Greatonce quota: calls per second before it answers 访问过于频繁 (0: unlimited)")
	goBurst := flag.Int("greatonce-burst", 0, "Greatonce quota's burst (0: a tenth of -greatonce-rate, at least 1)")
	debugAddr := flag.String("debug-listen", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6061; off when empty)")
	flag.Parse()
	if *debugAddr != "" {
		if err := checkLoopback(*debugAddr); err != nil {
			return err
		}
	}

	kc, gc, zc := kingdee.DefaultConfig(), greatonce.DefaultConfig(), zhilong.DefaultConfig()
	kc.Seed, gc.Seed, zc.Seed = *seed, *seed, *seed
	gc.RatePerSecond, gc.Burst = *goRate, *goBurst
	kd, g, zl := kingdee.New(kc), greatonce.New(gc), zhilong.New(zc)
	if *customers > 0 {
		kd.Seed(*customers, *seed)
	}
	if *agents > 0 {
		zl.Seed(*agents, *seed)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var servers []*http.Server
	serve := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln)
		return "http://" + ln.Addr().String(), nil
	}
	ku, err := serve(*kdAddr, kd)
	if err != nil {
		return err
	}
	gu, err := serve(*goAddr, g)
	if err != nil {
		return err
	}
	zu, err := serve(*zlAddr, zl)
	if err != nil {
		return err
	}
	du := ""
	if *debugAddr != "" {
		if du, err = serve(*debugAddr, pprofMux()); err != nil {
			return err
		}
	}
	fmt.Printf("kingdee %s/k3cloud/ acct=%s user=%s password=%s appid=%s appsecret=%s\n", ku, kc.AcctID, kc.Username, kc.Password, kc.AppID, kc.AppSecret)
	fmt.Printf("greatonce %s appKey=%s secret=%s customerId=%s\n", gu, gc.AppKey, gc.Secret, gc.CustomerID)
	fmt.Printf("zhilong %s user=%s password=%s\n", zu, zc.Username, zc.Password)
	if du != "" {
		fmt.Printf("debug %s/debug/pprof/\n", du)
	}
	fmt.Println("mocks ready")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	return nil
}

// checkLoopback refuses a -debug-listen address that is not on loopback: pprof exposes the process's
// memory and command line and must not be reachable from elsewhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-debug-listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-debug-listen %q: only a loopback address is allowed (127.0.0.1:PORT, [::1]:PORT, localhost:PORT)", addr)
}

// pprofMux serves net/http/pprof on its own mux (never on http.DefaultServeMux).
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
