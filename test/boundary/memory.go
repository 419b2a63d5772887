package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// maxGoCommitKB bounds what plerl adds to a backend's commit charge (the
// mappings the kernel accounts to Committed_AS, touched or not; what fails
// under vm.overcommit_memory = 2). Measured 48 MB with Go 1.26; 80 MB before
// the loader gave back Go's 32 MB FIPS scratch buffer (handler/memory.go).
const maxGoCommitKB = 56 * 1024

// commitKB sums the sizes of a process's accounted (VmFlags "ac") mappings.
func commitKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	total, size := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Size:"):
			size, _ = strconv.Atoi(strings.Fields(line)[1])
		case strings.HasPrefix(line, "VmFlags:"):
			for _, fl := range strings.Fields(line)[1:] {
				if fl == "ac" {
					total += size
				}
			}
		}
	}
	return total, sc.Err()
}

// testCommit: 9a what a backend that ran plerl commits beyond a plain one;
// 9b the loader refuses with 53200, and the backend lives on, when that
// commit cannot be had (a soft RLIMIT_AS just above the backend's size stands
// in for an exhausted CommitLimit: both make a private mapping fail).
func (s *Suite) testCommit() {
	s.run("9a", "commit charge", func() (string, error) {
		plain, err := s.connect()
		if err != nil {
			return "", err
		}
		defer plain.Close()
		if _, err := plain.MustOK("SELECT 1"); err != nil {
			return "", err
		}
		cn, err := s.connect()
		if err != nil {
			return "", err
		}
		defer cn.Close()
		if _, err := cn.MustOK("DO LANGUAGE plerl $$ local x = 1 $$"); err != nil {
			return "", err
		}
		if err := expectValue(cn, "SELECT b_trivial(1)", "2"); err != nil {
			return "", err
		}
		p, err := commitKB(plain.PID)
		if err != nil {
			return "", err
		}
		g, err := commitKB(cn.PID)
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("plain backend %d kB, after plerl %d kB: +%d kB (bound %d kB), %d threads", p, g, g-p, maxGoCommitKB, threadCount(cn.PID))
		if g-p > maxGoCommitKB {
			return msg, fmt.Errorf("plerl commits %d kB more than a plain backend", g-p)
		}
		return msg, nil
	})
	s.run("9b", "commit probe", func() (string, error) {
		cn, err := s.connect()
		if err != nil {
			return "", err
		}
		defer cn.Close()
		if _, err := cn.MustOK("SELECT 1"); err != nil {
			return "", err
		}
		vm, err := statusField(fmt.Sprintf("/proc/%d/status", cn.PID), "VmSize")
		if err != nil {
			return "", err
		}
		kb, _ := strconv.Atoi(strings.Fields(vm)[0])
		// The backend runs as the cluster's user: only that user (or
		// CAP_SYS_RESOURCE) may change its limits.
		limit := func(soft string) error {
			cmd := exec.Command("prlimit", "--pid", strconv.Itoa(cn.PID), "--as="+soft+":")
			if s.cl.cred != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cl.cred}
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("prlimit --as=%s: %v: %s", soft, err, out)
			}
			return nil
		}
		if _, err := exec.LookPath("prlimit"); err != nil {
			return "", skip("no prlimit(1)")
		}
		if err := limit(strconv.Itoa((kb + 60*1024) * 1024)); err != nil {
			return "", err
		}
		res, err := cn.Exec("DO LANGUAGE plerl $$ local x = 1 $$")
		if err != nil {
			return "", fmt.Errorf("the backend died loading plerl under the limit: %v", err)
		}
		if res.Err == nil || res.Err.Code != "53200" || !strings.Contains(res.Err.Detail, "Go runtime") {
			return "", fmt.Errorf("under a limit of VmSize + 60 MB: got %v, want 53200 from the loader", res.Err)
		}
		msg := res.Err.Message + " (" + res.Err.Detail + ")"
		if err := samePID(cn); err != nil {
			return msg, err
		}
		if err := limit("unlimited"); err != nil {
			return msg, err
		}
		if err := expectValue(cn, "SELECT b_trivial(41)", "42"); err != nil {
			return msg, fmt.Errorf("after the limit was lifted: %v", err)
		}
		return "53200 " + msg + "; after lifting the limit the same backend loads plerl", samePID(cn)
	})
}
