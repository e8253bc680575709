// Command syncgate-mocks serves the three mock vendors (Kingdee, Greatonce, Zhilong) on loopback ports
// and prints their base URLs and credentials, one line each, then "mocks ready".
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
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
	goRate := flag.Float64("greatonce-rate", 0, "Greatonce calls per second before rate limiting (0: unlimited)")
	flag.Parse()

	kc, gc, zc := kingdee.DefaultConfig(), greatonce.DefaultConfig(), zhilong.DefaultConfig()
	kc.Seed, gc.Seed, zc.Seed = *seed, *seed, *seed
	gc.RatePerSecond = *goRate
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
	fmt.Printf("kingdee %s/k3cloud/ acct=%s user=%s password=%s appid=%s appsecret=%s\n", ku, kc.AcctID, kc.Username, kc.Password, kc.AppID, kc.AppSecret)
	fmt.Printf("greatonce %s appKey=%s secret=%s customerId=%s\n", gu, gc.AppKey, gc.Secret, gc.CustomerID)
	fmt.Printf("zhilong %s user=%s password=%s\n", zu, zc.Username, zc.Password)
	fmt.Println("mocks ready")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	return nil
}
