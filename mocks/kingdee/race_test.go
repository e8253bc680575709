package kingdee

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestResetDuringAuthenticatedCalls resets the mock while sessions are read and slid by authenticated
// queries. reset once replaced the session map under the data lock while authorised read it under
// the session lock: run with -race, this test failed on that data race.
func TestResetDuringAuthenticatedCalls(t *testing.T) {
	k, _ := newClient(t, 5)
	cfg := DefaultConfig()
	k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
	q := map[string]any{"data": map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID", "Limit": 1}}
	var wg sync.WaitGroup
	const calls = 50
	answered := make(chan string, calls)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range calls {
			resp, err := k.hc.Post(k.base+"/_mock/reset", "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("reset: %s", resp.Status)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range calls {
			_, body := k.call(query, q)
			answered <- body
		}
	}()
	wg.Wait()
	close(answered)
	n := 0
	for body := range answered {
		// Each query either ran in the session or found it reset away; nothing else.
		if !strings.HasPrefix(body, "[") {
			t.Errorf("query answered %s", body)
		}
		n++
	}
	if n != calls {
		t.Fatalf("%d of %d queries answered", n, calls)
	}
	// After the last reset the session is gone.
	if _, body := k.call(query, q); !strings.Contains(body, `"MsgCode":1`) {
		t.Fatalf("query after reset: %s", body)
	}
}
