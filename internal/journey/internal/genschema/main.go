// Command genschema writes the JSON Schema of journey files (journey.Schema)
// to the file named by its argument; `go generate ./internal/journey` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/stopline/stopline/internal/journey"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genschema OUTPUT.json")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], journey.Schema(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}
