package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stopline/stopline/internal/temporalns"
	"github.com/stopline/stopline/workflows"
)

// prepareNamespace makes the namespace usable: it exists (created when
// Config.CreateNamespace allows), has stopline's search attributes, and a
// start that carries them succeeds. Until then the worker does not poll
// and /readyz is not ready.
func (a *App) prepareNamespace(ctx context.Context, log *slog.Logger) error {
	err := temporalns.Check(ctx, a.Temporal, a.namespace)
	if errors.Is(err, temporalns.ErrMissing) && a.cfg.CreateNamespace {
		retention := cmp.Or(a.cfg.NamespaceRetention, temporalns.DefaultRetention)
		log.Info("creating the Temporal namespace", "namespace", a.namespace, "retention", retention)
		err = temporalns.Create(ctx, a.Temporal, a.namespace, retention)
	}
	if err != nil {
		return err
	}
	if err := temporalns.EnsureSearchAttributes(ctx, a.Temporal, a.namespace, workflows.SearchAttributes()); err != nil {
		return err
	}
	return a.awaitSearchAttributes(ctx, log)
}

// awaitSearchAttributes probes until a start with the search attributes
// succeeds: on the official server, attributes just added are refused
// until the frontend's namespace cache refreshes (about 10 s).
func (a *App) awaitSearchAttributes(ctx context.Context, log *slog.Logger) error {
	for logged := false; ; {
		err := temporalns.Probe(ctx, a.Temporal, a.ID, workflows.SearchAttributes())
		if err == nil || !temporalns.IsUnmapped(err) {
			return err
		}
		if !logged {
			log.Info("waiting for Temporal to make the search attributes usable (namespace cache refresh)", "namespace", a.namespace)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes not usable yet: %w (%w)", ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}
