package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// --config naming a FIFO (or a device) is refused before it is opened,
// exit 2: opening a FIFO for reading blocks until a writer comes, and no
// signal's context reaches a blocked open.
func TestConfigMustBeARegularFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO here:", err)
	}
	for path, want := range map[string]string{fifo: "not a regular file (a FIFO)", os.DevNull: "not a regular file (a device)"} {
		for _, args := range [][]string{{"query", "--profile", "acme"}, {"jobs", "query", "--all-profiles"}, {"report", "--all-profiles"}, {"results", "e1", "--profile", "acme"}} {
			o := gcusage(t, nil, nil, append(args, "--config", path)...) // before the fix, a FIFO blocked here for ever
			if o.code != 2 || o.stdout != "" || o.stderr != "gcusage: "+path+": "+want+": give the profiles file itself\n" {
				t.Errorf("%v --config %s: exit %d, stdout %q, stderr %q; want 2 and %q", args, path, o.code, o.stdout, o.stderr, want)
			}
		}
	}
	// Completing --profile reads --config too: it offers nothing, at once.
	if o := gcusage(t, nil, nil, "__complete", "query", "--config", fifo, "--profile", ""); strings.TrimSpace(o.stdout) != ":4" {
		t.Errorf("completing --profile of a FIFO: %q, want nothing", o.stdout)
	}
}

// TestSecondInterruptKills sends Ctrl-C twice to a child process: the
// first must end the context, with the cause that gives exit code 130, the
// second kill the process.
func TestSecondInterruptKills(t *testing.T) {
	if os.Getenv("GCUSAGE_TEST_INTERRUPT_CHILD") != "" {
		interruptTwice()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptKills$")
	cmd.Env = append(os.Environ(), "GCUSAGE_TEST_INTERRUPT_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skip("started with SIGINT ignored, as under nohup: Ctrl-C cannot kill then")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("child ended with %v, want killed by SIGINT; output:\n%s", err, out)
	}
}

// interruptTwice signals its own thread, so that each signal is handled
// before tgkill returns: no waiting on the clock. If it is still alive
// after the second, that one was swallowed.
func interruptTwice() {
	if signal.Ignored(os.Interrupt) {
		os.Exit(3)
	}
	runtime.LockOSThread()
	ctx := interruptContext()
	interrupt := func() { syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGINT) }
	interrupt()
	<-ctx.Done()
	if interruptedCode(ctx) != 130 {
		os.Exit(4)
	}
	interrupt()
}
