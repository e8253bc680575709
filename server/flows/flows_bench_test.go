package flows_test

import (
	"github.com/syncgate/syncgate/server/engine"
	"testing"
)

// BenchmarkAgentsFlow runs a full SyncAgents over b.N*1000 agents against in-process mocks; with
// -cpuprofile it shows where the gateway spends its time.
func BenchmarkAgentsFlow(b *testing.B) {
	v := newVendors(b, 0, 20000, 1000)
	b.ResetTimer()
	r := v.run(b, engine.FlowAgents, engine.Options{})
	b.ReportMetric(float64(r.Counts.Added)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCustomersFlow is BenchmarkAgentsFlow for SyncCustomers.
func BenchmarkCustomersFlow(b *testing.B) {
	v := newVendors(b, 20000, 0, 1000)
	v.customersOpt.Concurrency = 16
	b.ResetTimer()
	r := v.run(b, engine.FlowCustomers, engine.Options{})
	b.ReportMetric(float64(r.Counts.Added)/b.Elapsed().Seconds(), "records/s")
}
