package pkgdb

/*
typedef struct sqlite3 sqlite3;
int sqlite3_db_config(sqlite3 *db, int op, ...);

// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE in sqlite3.h.
#define LPM_DBCONFIG_NO_CKPT_ON_CLOSE 1006

static int lpm_no_checkpoint_on_close(void *db) {
	return sqlite3_db_config((sqlite3 *)db, LPM_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
*/
import "C"

import (
	"fmt"
	"reflect"

	"github.com/mattn/go-sqlite3"
)

// noCheckpointOnClose stops SQLite from checkpointing the WAL into the
// database file when conn, the last connection, closes.
//
// Why: every lpm command is one process, and its close checkpoint was two
// fsyncs (the WAL, then the database file), and the WAL it emptied had its
// header written and fsynced again by the next command's first write:
// three of the six fsyncs of a small install, each a journal commit of the
// filesystem. Nothing is less durable: a commit is durable in the WAL
// when it returns (synchronous=FULL), and Close folds the WAL into the
// database file once it is past bigWAL (1 MiB), as SQLite's automatic
// checkpoint does at 4 MiB. The next process to open the database
// rebuilds its WAL index from the WAL, a read from the page cache (lpm
// list with 743 pages of WAL took 0.4 ms more CPU than with none).
//
// go-sqlite3 has no call for sqlite3_db_config, so this takes the handle
// from its connection's unexported field: a version of go-sqlite3 without
// it fails here, at the first open, not silently.
func noCheckpointOnClose(conn *sqlite3.SQLiteConn) error {
	field := reflect.ValueOf(conn).Elem().FieldByName("db")
	if !field.IsValid() || field.Kind() != reflect.Pointer || field.IsNil() {
		return fmt.Errorf("pkgdb: go-sqlite3's connection has no SQLite handle in its db field; this lpm was built with a go-sqlite3 it does not know")
	}
	if rc := C.lpm_no_checkpoint_on_close(field.UnsafePointer()); rc != 0 {
		return fmt.Errorf("pkgdb: turning off the checkpoint on close: SQLite error %d", int(rc))
	}
	return nil
}
