package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// instanceID names one worker process: host, pid and a random suffix, since
// a restarted container may reuse both.
func instanceID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
