//go:build !race

package usagetest_test

const raceEnabled = false
