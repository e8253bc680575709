package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// pinVendors, when set, runs the scale measurement (-n) with the mocks on a CPU set of their own and
// the gateway and this process (the raw measurement's client) on the others: as vendors on machines
// of their own, so that a share of raw says how much of the vendor's capacity the gateway uses rather
// than how the two share the CPUs.
var pinVendors bool

// cpuSplit is the CPU sets of a pinned measurement, as taskset lists.
type cpuSplit struct{ gateway, vendors, all string }

// splitCPUs gives the first half of the CPUs (at least one) to the gateway and the rest to the mocks.
func splitCPUs() (cpuSplit, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return cpuSplit{}, fmt.Errorf("-pin needs at least 2 CPUs, this machine has %d", n)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return cpuSplit{}, fmt.Errorf("-pin needs taskset (util-linux): %w", err)
	}
	half := n / 2
	return cpuSplit{gateway: cpuRange(0, half), vendors: cpuRange(half, n), all: cpuRange(0, n)}, nil
}

func cpuRange(from, to int) string {
	if to-from == 1 {
		return fmt.Sprint(from)
	}
	return fmt.Sprintf("%d-%d", from, to-1)
}

// pinned returns bin and args run on the CPU list cpus (unchanged when cpus is empty).
func pinned(cpus, bin string, args []string) (string, []string) {
	if cpus == "" {
		return bin, args
	}
	return "taskset", append([]string{"-c", cpus, bin}, args...)
}

// pinSelf moves every thread of this process to the CPU list cpus (threads made later inherit it).
func pinSelf(cpus string) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, fmt.Sprint(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset %s: %v: %s", cpus, err, strings.TrimSpace(string(out)))
	}
	return nil
}
