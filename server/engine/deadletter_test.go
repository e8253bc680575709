package engine

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/server/mapping"
)

func TestDeadLetterKeepsARecordJSONCannotHold(t *testing.T) {
	rec := SourceRecord{Key: "K1", Fields: mapping.Record{"agentId": "K1", "score": math.NaN()}}
	d := deadLetter(rec, errors.New("rejected"))
	var back map[string]string
	if err := json.Unmarshal(d.Payload, &back); err != nil || back["agentId"] != "K1" || back["score"] != "NaN" {
		t.Fatalf("payload %s: %v", d.Payload, err)
	}
	if !strings.HasPrefix(d.LastError, "rejected") || !strings.Contains(d.LastError, "kept with its values as text") {
		t.Fatalf("last error %q", d.LastError)
	}
}
