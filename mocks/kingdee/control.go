package kingdee

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/ctl"
	"github.com/syncgate/syncgate/mocks/internal/fault"
	"github.com/syncgate/syncgate/mocks/internal/gen"
)

// Customer is the control plane's view of one customer.
type Customer struct {
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

// Customers returns every customer, in (FModifyDate, FCUSTID) order.
func (s *Server) Customers() []Customer {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Customer, 0, len(s.custs))
	for _, e := range s.ix.entries {
		if e.stale() {
			continue
		}
		c := e.c
		out = append(out, Customer{c.ID, c.Number, c.Name, c.OutID, c.DocStatus, c.ForbidStatus, c.Modified, c.Address, gen.Orgs[c.UseOrg][0], c.Combo1})
	}
	return out
}

// Modify changes k audited, active customers (chosen under seed): their level and default address
// change and their modify date moves to now. It returns their FCUSTIDs.
func (s *Server) Modify(k int, seed uint64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ix.compact()
	var cands []*customer
	for _, e := range s.ix.entries {
		if e.c.DocStatus == "C" && e.c.ForbidStatus == "A" {
			cands = append(cands, e.c)
		}
	}
	r := rand.New(rand.NewPCG(seed, 77))
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	g := gen.New(seed+1, time.Now())
	var ids []int64
	for _, c := range cands[:min(k, len(cands))] {
		switch c.Combo1 {
		case "A":
			c.Combo1 = "B"
		case "B":
			c.Combo1 = "C"
		default:
			c.Combo1 = "A"
		}
		if len(c.Addresses) == 0 {
			c.Addresses = []address{{Number: c.Number + "-1", Name: "收货地址", Default: true, ContactID: c.ID * 10, ContactName: g.Person()}}
		}
		addrs := append([]address(nil), c.Addresses...)
		addrs[len(addrs)-1].Address = g.Address()
		c.Addresses = addrs
		c.Modified = s.nowLocked()
		s.ix.add(c)
		ids = append(ids, c.ID)
	}
	s.ix.compact()
	return ids
}

// Add creates n new audited customers modified now and returns their FCUSTIDs.
func (s *Server) Add(n int, seed uint64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := gen.New(seed, time.Now())
	var ids []int64
	for i := range n {
		c := generate(g, s.nextNum-1+i, 1)
		c.ID, c.Number = s.nextID, "CUST"+strconv.Itoa(9000000+s.nextNum)
		c.DocStatus, c.ForbidStatus = "C", "A"
		s.nextID++
		s.nextNum++
		c.Modified = s.nowLocked()
		c.Created = c.Modified
		s.insertLocked(c)
		ids = append(ids, c.ID)
	}
	return ids
}

// control mounts the control plane:
//
//	shared routes (see ctl.Mount), plus
//	GET  /_mock/customers                 every customer (Customer)
//	POST /_mock/modify?k=K&seed=S         modify K customers (level, address, modify date)
//	POST /_mock/add?n=N&seed=S            add N customers
//	POST /_mock/faults {"endpoint":"*","kind":"session_lost","after":N}   every session is lost after N business calls
func (s *Server) control(g *echo.Group) {
	ctl.Mount(g, s.stats, s.faults, s.cfg.Seed, ctl.Hooks{
		Reset:  s.reset,
		Seed:   s.Seed,
		Modify: func(k int, seed uint64) any { return s.Modify(k, seed) },
		Add:    func(n int, seed uint64) any { return s.Add(n, seed) },
		Fault: func(r fault.Rule) bool {
			if r.Kind == fault.SessionLost && r.After > 0 && r.Rate == 0 && r.Count == 0 {
				s.sessionMu.Lock()
				s.loseAfter, s.calls = r.After, 0
				s.sessionMu.Unlock()
				return true
			}
			return false
		},
	})
	g.GET("/customers", func(c echo.Context) error { return c.JSON(http.StatusOK, s.Customers()) })
}
