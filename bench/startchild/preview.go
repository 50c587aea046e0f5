package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/stopline/stopline/internal/journey"
	"github.com/stopline/stopline/internal/launch"
	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/internal/preview"
	"github.com/stopline/stopline/internal/store"
)

// Flags of the preview modes.
var databaseURL, previewAt string

// runPreview previews the audience (mode preview) or only reads it as a
// start does (mode read), and reports the recipients read as started.
func runPreview(ctx context.Context, def *journey.Definition, secret, mode, csvPath string) error {
	keyer, f, err := openAudience(secret, csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var rep report
	began := time.Now()
	if mode == "read" {
		aud, err := launch.ReadAudience(f, launch.Options{Journey: def, Region: "US", Keyer: keyer})
		if err != nil {
			return err
		}
		for {
			row, err := aud.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if row.Skip == "" && row.DuplicateOf == 0 {
				rep.Started++
			}
		}
	} else {
		at, err := time.Parse(time.RFC3339, previewAt)
		if err != nil {
			return err
		}
		st, err := store.Open(ctx, databaseURL)
		if err != nil {
			return err
		}
		defer st.Close()
		r, err := preview.Run(ctx, f, preview.Options{Journey: def, Region: "US", Keyer: keyer, Consent: st, At: at})
		if err != nil {
			return err
		}
		rep.Started = r.Valid
		rep.Blocked = r.Consent.Blocked
	}
	rep.Seconds = time.Since(began).Seconds()
	rep.PeakRSSKB = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// openAudience makes the recipient keyer and opens the audience file.
func openAudience(secret, csvPath string) (phone.Keyer, *os.File, error) {
	keyer, err := phone.NewKeyer([]byte(secret))
	if err != nil {
		return keyer, nil, err
	}
	f, err := os.Open(csvPath)
	return keyer, f, err
}
