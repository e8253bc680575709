package engine

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	records *prometheus.CounterVec
	runs    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncgate_records_total",
			Help: "Source records processed, by flow and outcome (added, updated, skipped, failed = permanent, transient = not delivered this run; dry runs not counted).",
		}, []string{"flow", "outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncgate_runs_total",
			Help: "Runs ended, by flow and final status.",
		}, []string{"flow", "status"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.runs)
	}
	return m
}
