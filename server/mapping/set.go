package mapping

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed specs/*.yaml
var embedded embed.FS

// Set is the active specs, one per flow. It is immutable and safe for concurrent use.
type Set struct {
	specs map[string]*Spec
}

// LoadSet loads the embedded default specs (specs/customers.yaml, specs/agents.yaml) and, when dir is
// not empty, replaces each with the file of the same name in dir. dir must exist; a .yaml or .yml
// file in it that names no flow is an error too (a misspelt override would otherwise be ignored).
// Every problem of every spec is reported together.
func LoadSet(dir string) (*Set, error) {
	entries, err := fs.ReadDir(embedded, "specs")
	if err != nil {
		return nil, fmt.Errorf("mapping specs: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var errs []error
	if dir != "" {
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("mapping spec directory: %w", err)
		}
		for _, e := range files {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") && !slices.Contains(names, e.Name()) {
				errs = append(errs, fmt.Errorf("%s: not a mapping spec name (want one of %s)",
					filepath.Join(dir, e.Name()), strings.Join(names, ", ")))
			}
		}
	}
	set := &Set{specs: map[string]*Spec{}}
	for _, base := range names {
		data, err := embedded.ReadFile("specs/" + base)
		if err != nil {
			return nil, fmt.Errorf("mapping specs: %w", err)
		}
		name := "embedded " + base
		if dir != "" {
			p := filepath.Join(dir, base)
			if b, err := os.ReadFile(p); err == nil {
				data, name = b, p
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("mapping spec: %w", err)
			}
		}
		// A spec for the other flow would fail on every field: say that once.
		var head struct {
			Flow string `yaml:"flow"`
		}
		want := strings.TrimSuffix(base, ".yaml")
		if yaml.Unmarshal(data, &head) == nil && head.Flow != want && schemas[head.Flow] != nil {
			errs = append(errs, fmt.Errorf("%s: declares flow %q, but the file name says %q", name, head.Flow, want))
			continue
		}
		s, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.specs[s.Flow()] = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Get returns the spec of a flow.
func (s *Set) Get(flow string) (*Spec, bool) {
	sp, ok := s.specs[flow]
	return sp, ok
}

// Flows lists the flows the set has specs for, sorted.
func (s *Set) Flows() []string {
	out := make([]string, 0, len(s.specs))
	for f := range s.specs {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Default returns the embedded default spec text of a flow (customers or agents), e.g. as the
// starting point for an override.
func Default(flow string) ([]byte, error) {
	b, err := embedded.ReadFile("specs/" + flow + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no default mapping spec for flow %q", flow)
	}
	return b, nil
}
