package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/syncgate/syncgate/mocks/greatonce"
	"github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/zhilong"
	"github.com/syncgate/syncgate/server/config"
)

// demoKey is the API key of the demo (loopback only).
const demoKey = "demo-key"

// demoVendors are the in-process mock vendors of --demo.
type demoVendors struct {
	servers []*http.Server
	dir     string
}

// startDemo starts the three mocks on ephemeral loopback ports, seeds them with records, and points
// cfg at them with their credentials, a fresh SQLite file and the demo API key.
func startDemo(ctx context.Context, cfg *config.Config, records int, log *slog.Logger) (*demoVendors, error) {
	d := &demoVendors{}
	kc, gc, zc := kingdee.DefaultConfig(), greatonce.DefaultConfig(), zhilong.DefaultConfig()
	kd, g, zl := kingdee.New(kc), greatonce.New(gc), zhilong.New(zc)
	kd.Seed(records, 1)
	zl.Seed(records, 1)
	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		d.servers = append(d.servers, srv)
		go srv.Serve(ln)
		return "http://" + ln.Addr().String(), nil
	}
	ku, err := serve(kd)
	if err != nil {
		return nil, err
	}
	gu, err := serve(g)
	if err != nil {
		d.Close()
		return nil, err
	}
	zu, err := serve(zl)
	if err != nil {
		d.Close()
		return nil, err
	}
	cfg.Kingdee.BaseURL, cfg.Kingdee.AcctID, cfg.Kingdee.Username, cfg.Kingdee.Password = ku+"/k3cloud/", kc.AcctID, kc.Username, kc.Password
	cfg.Greatonce.BaseURL, cfg.Greatonce.AppKey, cfg.Greatonce.Secret, cfg.Greatonce.CustomerID = gu, gc.AppKey, gc.Secret, gc.CustomerID
	cfg.Zhilong.BaseURL, cfg.Zhilong.Username, cfg.Zhilong.Password = zu, zc.Username, zc.Password
	if len(cfg.APIKeys) == 0 {
		cfg.APIKeys = []string{"demo:" + demoKey}
	}
	// Runs happen by themselves in the demo: both flows every 30 s, unless configured otherwise.
	if cfg.Sync.ScheduleCustomers == "" {
		cfg.Sync.ScheduleCustomers = "every 30s"
	}
	if cfg.Sync.ScheduleAgents == "" {
		cfg.Sync.ScheduleAgents = "every 30s"
	}
	if cfg.DB == config.Defaults().DB {
		if d.dir, err = os.MkdirTemp("", "syncgate-demo-"); err != nil {
			d.Close()
			return nil, err
		}
		cfg.DB = filepath.Join(d.dir, "syncgate-demo.db")
	}
	log.Info("demo vendors started", "kingdee", ku, "greatonce", gu, "zhilong", zu, "records", records)
	return d, nil
}

// Close stops the mocks and removes the demo database.
func (d *demoVendors) Close() {
	for _, s := range d.servers {
		s.Close()
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

// PrintHelp prints ready-to-paste buf curl commands against the demo, and the web console's URL when
// the console is served.
func (d *demoVendors) PrintHelp(w io.Writer, addr string, console bool) {
	url := "http://" + addr
	bc := "go run github.com/bufbuild/buf/cmd/buf@v1.75.0 curl"
	h := `-H "Authorization: Bearer ` + demoKey + `"`
	fmt.Fprintf(w, `
syncgate demo is ready. Mock vendors are seeded; API key: %s. Try (buf curl; "buf" works too if installed):

  %s --protocol grpc --http2-prior-knowledge --list-methods %s
  %s %s -d '{"flow":"FLOW_CUSTOMERS","pending":{"count":2}}' %s/syncgate.v1.SyncService/Preview
  %s %s -d '{"flow":"FLOW_AGENTS","keys":{"keys":["AG0000001"]}}' %s/syncgate.v1.SyncService/Preview
  %s %s -d '{"flow":"FLOW_AGENTS","inline":{"records":[{"agentId":"X1","agentName":"演示代理商","houseAddress":"上海市徐汇区","updateTime":"2026-11-01 10:00:00"}]}}' %s/syncgate.v1.SyncService/Preview
  %s %s -d '{"options":{"wait":true}}' %s/syncgate.v1.SyncService/SyncCustomers
  %s %s -d '{"options":{"wait":true}}' %s/syncgate.v1.SyncService/SyncAgents
  %s %s -d '{"pageSize":5}' %s/syncgate.v1.SyncService/ListRuns
`, demoKey, bc, url, bc, h, url, bc, h, url, bc, h, url, bc, h, url, bc, h, url, bc, h, url)
	if console {
		fmt.Fprintf(w, "\nWeb console: %s/ (sign in with the API key %s).\n", url, demoKey)
	}
	fmt.Fprint(w, "\nStop with Ctrl-C.\n")
}
