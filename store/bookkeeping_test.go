package store_test

import (
	"path/filepath"
	"testing"

	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/store/storetest"
	"github.com/rolecd/rolecd/test/pgtest"
)

func TestSQLiteBookkeeping(t *testing.T) {
	storetest.RunBookkeeping(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "rolecd.db"))
	})
}

func TestPostgresBookkeeping(t *testing.T) {
	f := &postgresFixture{cluster: pgtest.Start(t)}
	storetest.RunBookkeeping(t, func(t *testing.T) store.Store { return openURL(t, f.newDatabase(t)) })
}
