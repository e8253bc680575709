package postgres

// HistoryQuery is RecordHistory's query, for the plan test.
const HistoryQuery = historyQuery
