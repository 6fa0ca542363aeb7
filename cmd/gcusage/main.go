// Command gcusage will run usage queries from the shell. Until its issue
// lands it only says so, so that the README's first command already runs.
package main

import "fmt"

func main() {
	fmt.Println("gcusage: the command-line tool is being built; the SDK foundation (api/, gen/) is in place.")
}
