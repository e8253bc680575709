// Package mockctl is a typed client for the mock vendors' control plane (/_mock/ on each mock), for
// tests and the benchmark.
package mockctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/syncgate/syncgate/mocks/internal/fault"
)

// Client talks to one mock's control plane.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for the mock at baseURL (for Kingdee the URL may end in /k3cloud/).
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	u, err := url.Parse(baseURL)
	if err == nil {
		u.Path = ""
		baseURL = u.String()
	}
	return &Client{base: strings.TrimRight(baseURL, "/") + "/_mock", hc: hc}
}

// Fault is a fault rule: Kind on Endpoint, for the next Count calls or with probability Rate, after
// letting After calls pass. Kinds: latency, http500, http502, hang, drop, truncated, html,
// session_lost, lock_conflict, rate_limit, token_expiry, and the answer kinds below (commit_delay,
// commit_drop, invalid_utf8), which let the call run in full, its write committed, and then act on
// the answer. LatencyMS is the delay of latency and commit_delay.
type Fault struct {
	Endpoint  string  `json:"endpoint"`
	Kind      string  `json:"kind"`
	Rate      float64 `json:"rate,omitempty"`
	Count     int     `json:"count,omitempty"`
	After     int     `json:"after,omitempty"`
	LatencyMS int     `json:"latency_ms,omitempty"`
}

// The answer kinds of Fault (mocks/README.md, "Fault kinds").
const (
	// KindCommitDelay performs the call (a Save, BatchSave or distributor sync is committed) and
	// answers only after LatencyMS; with LatencyMS 0 it never answers, and the client times out.
	KindCommitDelay = fault.CommitDelay
	// KindCommitDrop performs the call and then closes the connection without an answer.
	KindCommitDrop = fault.CommitDrop
	// KindInvalidUTF8 performs the call and answers with each non-ASCII character's lead byte
	// replaced by 0xFF: still well-formed JSON, its strings invalid UTF-8.
	KindInvalidUTF8 = fault.InvalidUTF8
)

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mock %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Reset empties data, counts, log, sessions and faults.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/reset", nil, nil)
}

// Seed replaces the data with n generated records.
func (c *Client) Seed(ctx context.Context, n int, seed uint64) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/seed?n=%d&seed=%d", n, seed), nil, nil)
}

// Counts returns requests per endpoint.
func (c *Client) Counts(ctx context.Context) (map[string]int64, error) {
	var out map[string]int64
	return out, c.do(ctx, http.MethodGet, "/counts", nil, &out)
}

// Quota is the Greatonce mock's quota (Rate calls per second, 0 unlimited, with a bucket of Burst)
// and its counts since start-up or the last reset: calls that passed the quota and calls refused
// with 访问过于频繁.
type Quota struct {
	Rate      float64 `json:"rate"`
	Burst     int     `json:"burst"`
	Accepted  int64   `json:"accepted"`
	Throttled int64   `json:"throttled"`
}

// SetQuota sets the Greatonce mock's quota (rate 0: unlimited; burst 0: a tenth of rate, at least 1).
func (c *Client) SetQuota(ctx context.Context, rate float64, burst int) error {
	return c.do(ctx, http.MethodPost, "/quota", map[string]any{"rate": rate, "burst": burst}, nil)
}

// Quota returns the Greatonce mock's quota and counts.
func (c *Client) Quota(ctx context.Context) (Quota, error) {
	var q Quota
	return q, c.do(ctx, http.MethodGet, "/quota", nil, &q)
}

// LogEntry is one logged request.
type LogEntry struct {
	Seq      int64     `json:"seq"`
	Endpoint string    `json:"endpoint"`
	At       time.Time `json:"at"`
	Request  string    `json:"request"`
	Status   int       `json:"status"`
	Response string    `json:"response"`
}

// Log returns the last requests.
func (c *Client) Log(ctx context.Context) ([]LogEntry, error) {
	var out []LogEntry
	return out, c.do(ctx, http.MethodGet, "/log", nil, &out)
}

// SetFault adds a fault rule.
func (c *Client) SetFault(ctx context.Context, f Fault) error {
	return c.do(ctx, http.MethodPost, "/faults", f, nil)
}

// ClearFaults removes every fault rule.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/faults", nil, nil)
}

// Modify changes k source records (Kingdee customers or Zhilong agents) so their update time moves.
func (c *Client) Modify(ctx context.Context, k int, seed uint64) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/modify?k=%d&seed=%d", k, seed), nil, nil)
}

// Add creates n new source records.
func (c *Client) Add(ctx context.Context, n int, seed uint64) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/add?n=%d&seed=%d", n, seed), nil, nil)
}

// KingdeeCustomer is a customer as the Kingdee mock reports it.
type KingdeeCustomer struct {
	FCUSTID         int64     `json:"FCUSTID"`
	FNumber         string    `json:"FNumber"`
	FName           string    `json:"FName"`
	F_out_id        string    `json:"F_out_id"`
	FDocumentStatus string    `json:"FDocumentStatus"`
	FForbidStatus   string    `json:"FForbidStatus"`
	FModifyDate     time.Time `json:"FModifyDate"`
	FADDRESS        string    `json:"FADDRESS"`
	FUseOrgNumber   string    `json:"FUseOrgNumber"`
	F_FML_Combo1    string    `json:"F_FML_Combo1"`
}

// KingdeeCustomers lists the Kingdee mock's customers.
func (c *Client) KingdeeCustomers(ctx context.Context) ([]KingdeeCustomer, error) {
	var out []KingdeeCustomer
	return out, c.do(ctx, http.MethodGet, "/customers", nil, &out)
}

// GreatonceDistributor is a distributor as the Greatonce mock reports it.
type GreatonceDistributor struct {
	DistributorCode        string `json:"distributorCode"`
	DistributorName        string `json:"distributorName"`
	DistributorCompanyName string `json:"distributorCompanyName"`
	Address                string `json:"address"`
	BalanceDeductType      string `json:"balance_deduct_type"`
	Mobile                 string `json:"mobile"`
	Contact                string `json:"contact"`
	DistributorLevelName   string `json:"distributorLevelName"`
	Updates                int    `json:"updates"`
}

// GreatonceDistributors lists the Greatonce mock's distributors.
func (c *Client) GreatonceDistributors(ctx context.Context) ([]GreatonceDistributor, error) {
	var out []GreatonceDistributor
	return out, c.do(ctx, http.MethodGet, "/distributors", nil, &out)
}

// ZhilongAgent is an agent as the Zhilong mock reports it.
type ZhilongAgent struct {
	AgentID      string    `json:"AgentID"`
	AgentName    string    `json:"AgentName"`
	HouseAddress string    `json:"HouseAddress"`
	UpdateTime   time.Time `json:"UpdateTime"`
}

// ZhilongAgents lists the Zhilong mock's agents.
func (c *Client) ZhilongAgents(ctx context.Context) ([]ZhilongAgent, error) {
	var out []ZhilongAgent
	return out, c.do(ctx, http.MethodGet, "/agents", nil, &out)
}
