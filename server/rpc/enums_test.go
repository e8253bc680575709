package rpc

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/server/engine"
)

// checkTable asserts that every value the proto enum declares, but its zero value, has an engine name
// that reads back as it; that every engine name reads as a value and back; and that the zero value
// and an unknown name read as each other's "none".
func checkTable[P ~int32, N ~string](t *testing.T, tbl enumTable[P, N], desc protoreflect.EnumDescriptor, engineNames []N) {
	t.Helper()
	values := desc.Values()
	for i := range values.Len() {
		v := P(values.Get(i).Number())
		n := tbl.name(v)
		if v == 0 {
			if n != "" {
				t.Errorf("%s: the zero value is named %q, want none", values.Get(i).Name(), n)
			}
			continue
		}
		if n == "" {
			t.Errorf("%s has no engine name", values.Get(i).Name())
		} else if back := tbl.proto(n); back != v {
			t.Errorf("%s is named %q, which reads back as %d", values.Get(i).Name(), n, back)
		}
	}
	for _, n := range engineNames {
		v := tbl.proto(n)
		if v == 0 {
			t.Errorf("engine name %q has no %s value", n, desc.Name())
		} else if back := tbl.name(v); back != n {
			t.Errorf("engine name %q reads as %d, which is named %q", n, v, back)
		}
	}
	if v := tbl.proto("no such name"); v != 0 {
		t.Errorf("an unknown name reads as %d, want the zero value", v)
	}
}

func TestEnumTables(t *testing.T) {
	checkTable(t, flows, syncgatev1.Flow(0).Descriptor(), []string{engine.FlowCustomers, engine.FlowAgents})
	checkTable(t, statuses, syncgatev1.RunStatus(0).Descriptor(), []engine.Status{
		engine.StatusRunning, engine.StatusSucceeded, engine.StatusPartial, engine.StatusFailed, engine.StatusCancelled,
	})
	checkTable(t, actions, syncgatev1.Action(0).Descriptor(), []string{
		engine.ActionAdd, engine.ActionUpdate, engine.ActionSkip, engine.ActionFail,
	})
}
