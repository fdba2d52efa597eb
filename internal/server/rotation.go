package server

import (
	"fmt"
	"os"
	"strings"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/events"
)

// eventGridKeys reads the Event Grid endpoint's keys, one per line, from
// the key file and from CREDFLOW_EVENTGRID_KEY.
func (s *Server) eventGridKeys() ([]string, error) {
	text := os.Getenv(config.EnvEventGridKey)
	if s.cfg.EventGridKeyFile != "" {
		b, err := os.ReadFile(s.cfg.EventGridKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read the Event Grid key file: %w", err)
		}
		text += "\n" + string(b)
	}
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		if k := strings.TrimSpace(line); k != "" {
			keys = append(keys, k)
		}
	}
	if s.cfg.EventGridKeyFile != "" && len(keys) == 0 {
		return nil, fmt.Errorf("the Event Grid key file %s holds no key", s.cfg.EventGridKeyFile)
	}
	return keys, nil
}

// Events is the Event Grid receiver, for tests and benchmarks that wait for
// its queue to drain.
func (s *Server) Events() *events.Receiver { return s.events }
