package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"testing"
)

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
