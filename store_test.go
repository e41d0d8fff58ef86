package ratellmiter_test

import (
	"testing"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) ratellmiter.Store { return ratellmiter.NewMemoryStore() })
}
