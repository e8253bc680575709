package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/e2e"
	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/mapping"
)

// batchConcurrency is the gateway's sync.batch_concurrency, which the bench leaves at its default:
// the BatchSave calls of a page in flight at once, and so those of the raw measurement.
var batchConcurrency = config.Defaults().Sync.BatchConcurrency

// batchSaver is the raw BatchSave measurement's client: the Kingdee client the gateway uses
// (clients/kingdee, password login with one shared session reused by every call, renewed only when
// the server reports it lost), configured as the gateway configures it but unpaced, and the agents
// spec the gateway renders BD_Customer items with.
type batchSaver struct {
	kd   *kingdee.Client
	spec *mapping.Spec
	// batchSize items per BatchSave, conc calls in flight (the gateway's sync.batch_size and
	// sync.batch_concurrency).
	batchSize, conc int
	audit, verify   bool
}

// newBatchSaver logs in once (the gateway's session is open before a SyncAgents run: its client is
// long-lived and SyncCustomers has read Kingdee), so the rounds time BatchSave calls only.
func newBatchSaver(ctx context.Context, v e2e.VendorInfo, batchSize, conc int) (*batchSaver, error) {
	text, err := mapping.Default("agents")
	if err != nil {
		return nil, err
	}
	spec, err := mapping.Parse("agents.yaml", text)
	if err != nil {
		return nil, err
	}
	kd, err := kingdee.New(kingdee.Config{BaseURL: v.KingdeeURL, AcctID: v.KingdeeAcct, Username: v.KingdeeUser, Password: v.KingdeePass,
		Transport: vendor.Transport{Timeout: 30 * time.Second, MaxAttempts: 5, MaxConns: conc + 4, RateMode: vendor.RateFixed}}) // unpaced: the raw limit
	if err != nil {
		return nil, err
	}
	if err := kd.Login(ctx); err != nil {
		return nil, fmt.Errorf("raw BatchSave: login: %w", err)
	}
	audit, _ := spec.Options().Bool("IsAutoSubmitAndAudit")
	verify, _ := spec.Options().Bool("IsVerifyBaseDataField")
	return &batchSaver{kd: kd, spec: spec, batchSize: batchSize, conc: conc, audit: audit, verify: verify}, nil
}

// items renders n distinct agents of one round with the agents spec, as a first sync creates them:
// the mapped payload with FCUSTID 0, encoded as the flow encodes a Model item.
func (b *batchSaver) items(round, n int) ([]json.RawMessage, error) {
	now := time.Now()
	vars := mapping.Vars{LastSyncTime: now.Add(-time.Hour), CurrentTime: now}
	out := make([]json.RawMessage, n)
	for i := range out {
		id := fmt.Sprintf("RAWBS%d-%08d", round, i)
		p, err := b.spec.Render(mapping.Record{"agentId": id, "agentName": "基准代理商" + id, "houseAddress": "上海市徐汇区漕溪北路88号",
			"remark": "bench", "updateTime": vendor.FormatDateTime(now)}, vars)
		if err != nil {
			return nil, err
		}
		p.Set("FCUSTID", int64(0))
		if out[i], err = p.MarshalJSON(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rate saves items with BatchSave, batchSize per call and conc calls in flight, and returns items per
// second. Every item must save.
func (b *batchSaver) rate(ctx context.Context, items []json.RawMessage) (float64, error) {
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	batches := (len(items) + b.batchSize - 1) / b.batchSize
	start := time.Now()
	for range b.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= batches {
					return
				}
				batch := items[k*b.batchSize : min((k+1)*b.batchSize, len(items))]
				res, err := b.kd.BatchSave(ctx, kingdee.SaveRequest{FormID: "BD_Customer", Models: batch,
					IsAutoSubmitAndAudit: b.audit, IsVerifyBaseDataField: b.verify})
				switch {
				case err != nil:
					failed.Add(int64(len(batch)))
					firstErr.CompareAndSwap(nil, err.Error())
				case len(res.Failed()) > 0:
					failed.Add(int64(len(res.Failed())))
					firstErr.CompareAndSwap(nil, res.Failed()[0].Err.Error())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		return 0, fmt.Errorf("raw BatchSave: %d items failed (%v)", failed.Load(), firstErr.Load())
	}
	return float64(len(items)) / elapsed.Seconds(), nil
}

// rawBatchSave is the raw BatchSave measurement of one scale: rounds of distinct items, the median
// of their rates, and the CPU per item of this process and of the mocks during the timed calls.
type rawBatchSave struct {
	saver  *batchSaver
	mocks  *e2e.Process
	n      int // items per round
	settle func()
	rates  []float64
	items  int
	// client and mock are CPU time spent during the timed calls (rendering the items is not timed).
	client, mock time.Duration
}

// rounds measures three rounds, numbered from first.
func (r *rawBatchSave) rounds(ctx context.Context, first int) error {
	for round := first; round < first+3; round++ {
		items, err := r.saver.items(round, r.n)
		if err != nil {
			return err
		}
		r.settle()
		mock0, _ := r.mocks.CPUTime()
		self0 := selfCPU()
		rate, err := r.saver.rate(ctx, items)
		if err != nil {
			return err
		}
		mock1, _ := r.mocks.CPUTime()
		r.client, r.mock = r.client+selfCPU()-self0, r.mock+mock1-mock0
		r.rates = append(r.rates, rate)
		r.items += len(items)
	}
	return nil
}

// median is the median of the rounds' rates.
func (r *rawBatchSave) median() float64 {
	s := slices.Clone(r.rates)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
