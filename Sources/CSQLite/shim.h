#ifndef PIPE_CSQLITE_SHIM_H
#define PIPE_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type pipe_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
