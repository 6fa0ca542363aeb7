//go:build race

package usagetest_test

// raceEnabled sizes the big tests: the race detector slows row validation tenfold.
const raceEnabled = true
