/* Bulk insert of hash-set entry rows into SQLite, with the GIL released for SQLite's own work.
 *
 * Contract: ``Loader(sqlite3_module_path, db_path, insert_sql, pragmas)`` opens its own connection to the
 * database file through the *same* SQLite library instance that Python's ``sqlite3`` module uses: every SQLite
 * function is looked up with dlsym() through the ``_sqlite3`` extension module's own handle (the module, then
 * the libraries it was linked against), so one process never holds two copies of SQLite on one file (two copies
 * would not see each other's POSIX locks). If those symbols cannot be found, the constructor raises ImportError
 * and the caller uses its pure-Python path.
 *
 * The loader has a thread of its own that runs queued jobs on that connection and never touches Python: the
 * caller's thread reads the file while SQLite works. ``submit_records(set_id, records)`` copies a list of
 * ``(record_no, hashes, scheme, value, series, flags, comments, extra)`` tuples (``hashes`` a dict of kind ->
 * value in the record's order, the rest str or None) into plain C memory and queues their rows, one per hash:
 * ``(set_id, record_no, kind, value, scheme, value, series, flags, comments, extra)``, comments and extra on a
 * record's first row only (the rows of ``cairn.store.hash_sets``). ``submit_sql`` queues statements
 * (``BEGIN IMMEDIATE``, ``COMMIT``: transactions are the caller's). Submitting blocks, without the GIL, while
 * ``depth`` jobs wait; ``submit_sql`` returns the job's number and ``completed()`` the last one run to its end
 * (so a caller knows which COMMIT is done without waiting). After a job fails the rest are skipped and the next call (``submit_*``, ``wait``,
 * ``execute``) raises ``cairn.store._bulkinsert.Error`` with SQLite's message; ``discard`` skips the queue and
 * forgets the failure (then ROLLBACK); ``close`` stops the thread and closes the connection.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

#define SQL_OK 0
#define SQL_DONE 101
#define SQL_OPEN_READWRITE 0x00000002
#define SQL_OPEN_FULLMUTEX 0x00010000

static struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close_v2)(sqlite3 *);
    int (*exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **);
    void (*free_)(void *);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_int64)(sqlite3_stmt *, int, long long);
    int (*bind_null)(sqlite3_stmt *, int);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    const char *(*errmsg)(sqlite3 *);
    int (*busy_timeout)(sqlite3 *, int);
    const char *(*libversion)(void);
    int ready;
} api;

static PyObject *BulkError;

static int load_api(const char *module_path) {
    if (api.ready) return 0;
    void *h = dlopen(module_path, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) {
        PyErr_Format(PyExc_ImportError, "the sqlite3 module %s is not loaded in this process", module_path);
        return -1;
    }
#define FIND(field, name)                                                                              \
    do {                                                                                               \
        *(void **)(&api.field) = dlsym(h, name);                                                       \
        if (api.field == NULL) {                                                                       \
            PyErr_Format(PyExc_ImportError, "%s not found through the sqlite3 module's library", name); \
            return -1;                                                                                 \
        }                                                                                              \
    } while (0)
    FIND(open_v2, "sqlite3_open_v2");
    FIND(close_v2, "sqlite3_close_v2");
    FIND(exec, "sqlite3_exec");
    FIND(free_, "sqlite3_free");
    FIND(prepare_v2, "sqlite3_prepare_v2");
    FIND(bind_text, "sqlite3_bind_text");
    FIND(bind_int64, "sqlite3_bind_int64");
    FIND(bind_null, "sqlite3_bind_null");
    FIND(step, "sqlite3_step");
    FIND(reset, "sqlite3_reset");
    FIND(finalize, "sqlite3_finalize");
    FIND(errmsg, "sqlite3_errmsg");
    FIND(busy_timeout, "sqlite3_busy_timeout");
    FIND(libversion, "sqlite3_libversion");
#undef FIND
    /* dlopen(RTLD_NOLOAD) took a reference; the module stays loaded for the process anyway. */
    api.ready = 1;
    return 0;
}

#define NCOLS 10
#define CELL_NULL 0
#define CELL_INT 1
#define CELL_TEXT 2

/* One value of a row: an integer, or text at ``off`` in the job's arena, or NULL. */
typedef struct {
    long long num; /* CELL_INT: the value; CELL_TEXT: offset into the arena */
    int len;
    int type;
} Cell;

/* A unit of work for the loader's thread: SQL to run, or rows to insert (plain C memory, no Python objects). */
typedef struct Job {
    struct Job *next;
    long long seq; /* 1, 2, ... in the order queued */
    char *sql;
    Cell *cells;
    char *arena;
    Py_ssize_t rows;
} Job;

typedef struct {
    PyObject_HEAD sqlite3 *db;
    sqlite3_stmt *stmt;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    Job *head, *tail;
    int queued, busy, stopping, failed, depth;
    long long submitted, completed; /* sequence numbers: the last job queued, the last job run to its end */
    char *error; /* the first failure's message (malloc'd), until taken */
} Loader;

static void free_job(Job *job) {
    free(job->sql);
    free(job->cells);
    free(job->arena);
    free(job);
}

static char *dup_message(const char *what, const char *detail) {
    size_t n = strlen(what) + strlen(detail) + 3;
    char *out = malloc(n);
    if (out != NULL) snprintf(out, n, "%s: %s", what, detail);
    return out;
}

/* Run one job on the loader's connection (no GIL); NULL, or a malloc'd error message. */
static char *run_job(Loader *self, Job *job) {
    if (job->sql != NULL) {
        char *err = NULL;
        if (api.exec(self->db, job->sql, NULL, NULL, &err) == SQL_OK) return NULL;
        char *out = dup_message("statement failed", err != NULL ? err : api.errmsg(self->db));
        if (err != NULL) api.free_(err);
        return out;
    }
    sqlite3_stmt *stmt = self->stmt;
    for (Py_ssize_t r = 0; r < job->rows; r++) {
        Cell *row = job->cells + r * NCOLS;
        for (int c = 0; c < NCOLS; c++) {
            if (row[c].type == CELL_INT)
                api.bind_int64(stmt, c + 1, row[c].num);
            else if (row[c].type == CELL_TEXT)
                api.bind_text(stmt, c + 1, job->arena + row[c].num, row[c].len, NULL); /* NULL: SQLITE_STATIC */
            else
                api.bind_null(stmt, c + 1);
        }
        int rc = api.step(stmt);
        api.reset(stmt);
        if (rc != SQL_DONE) return dup_message("insert failed", api.errmsg(self->db));
    }
    return NULL;
}

static void *worker_main(void *arg) {
    Loader *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (self->head == NULL && !self->stopping) pthread_cond_wait(&self->work_cv, &self->mu);
        if (self->head == NULL) break; /* stopping, nothing left */
        Job *job = self->head;
        self->head = job->next;
        if (self->head == NULL) self->tail = NULL;
        self->queued--;
        int skip = self->failed;
        self->busy = 1;
        pthread_mutex_unlock(&self->mu);
        char *err = skip ? NULL : run_job(self, job);
        long long seq = job->seq;
        free_job(job);
        pthread_mutex_lock(&self->mu);
        self->busy = 0;
        if (!skip && err == NULL) self->completed = seq;
        if (err != NULL) {
            if (self->failed) {
                free(err);
            } else {
                self->failed = 1;
                self->error = err;
            }
        }
        pthread_cond_broadcast(&self->done_cv);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

/* Raise the recorded failure (and clear it, so the loader can be used again after a ROLLBACK). */
static PyObject *raise_failure(Loader *self) {
    pthread_mutex_lock(&self->mu);
    char *err = self->error;
    self->error = NULL;
    self->failed = 0;
    pthread_mutex_unlock(&self->mu);
    PyErr_SetString(BulkError, err != NULL ? err : "the loader's work failed (out of memory)");
    free(err);
    return NULL;
}

/* Queue ``job`` (blocking, without the GIL, while ``depth`` jobs wait); its sequence number, or -1 with the
 * failure raised if an earlier job failed (``job`` is then dropped). */
static long long enqueue(Loader *self, Job *job) {
    int failed;
    long long seq = 0;
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->mu);
    while (self->queued >= self->depth && !self->failed) pthread_cond_wait(&self->done_cv, &self->mu);
    failed = self->failed;
    if (!failed) {
        job->seq = seq = ++self->submitted;
        job->next = NULL;
        if (self->tail != NULL)
            self->tail->next = job;
        else
            self->head = job;
        self->tail = job;
        self->queued++;
        pthread_cond_signal(&self->work_cv);
    }
    pthread_mutex_unlock(&self->mu);
    Py_END_ALLOW_THREADS if (failed) {
        free_job(job);
        raise_failure(self);
        return -1;
    }
    return seq;
}

/* Block (without the GIL) until every queued job has run; 1 if one failed. */
static int drain(Loader *self) {
    int failed;
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->mu);
    while (self->head != NULL || self->busy) pthread_cond_wait(&self->done_cv, &self->mu);
    failed = self->failed;
    pthread_mutex_unlock(&self->mu);
    Py_END_ALLOW_THREADS return failed;
}

static void loader_shutdown(Loader *self) {
    if (self->started) {
        Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->mu);
        self->stopping = 1;
        self->failed = 1; /* whatever is still queued is skipped */
        pthread_cond_broadcast(&self->work_cv);
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->thread, NULL);
        Py_END_ALLOW_THREADS self->started = 0;
        free(self->error);
        self->error = NULL;
        pthread_mutex_destroy(&self->mu);
        pthread_cond_destroy(&self->work_cv);
        pthread_cond_destroy(&self->done_cv);
    }
    if (self->stmt != NULL) {
        api.finalize(self->stmt);
        self->stmt = NULL;
    }
    if (self->db != NULL) {
        api.close_v2(self->db);
        self->db = NULL;
    }
}

static int raise_db(sqlite3 *db, const char *what) {
    PyErr_Format(BulkError, "%s: %s", what, db != NULL ? api.errmsg(db) : "out of memory");
    return -1;
}

static int Loader_init(Loader *self, PyObject *args, PyObject *kwds) {
    const char *module_path, *db_path, *sql;
    PyObject *pragmas;
    int busy_ms = 30000, depth = 2;
    static char *kw[] = {"sqlite3_module", "path", "sql", "pragmas", "busy_timeout_ms", "depth", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sssO|ii", kw, &module_path, &db_path, &sql, &pragmas, &busy_ms,
                                     &depth))
        return -1;
    if (load_api(module_path) < 0) return -1;
    loader_shutdown(self);
    self->depth = depth < 1 ? 1 : depth;
    if (api.open_v2(db_path, &self->db, SQL_OPEN_READWRITE | SQL_OPEN_FULLMUTEX, NULL) != SQL_OK) {
        raise_db(self->db, "cannot open the database");
        loader_shutdown(self);
        return -1;
    }
    api.busy_timeout(self->db, busy_ms);
    PyObject *it = PyObject_GetIter(pragmas);
    if (it == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        const char *text = PyUnicode_AsUTF8(item);
        int rc = text == NULL ? -1 : api.exec(self->db, text, NULL, NULL, NULL);
        Py_DECREF(item);
        if (rc != SQL_OK) {
            Py_DECREF(it);
            if (text != NULL) raise_db(self->db, "pragma failed");
            return -1;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return -1;
    if (api.prepare_v2(self->db, sql, -1, &self->stmt, NULL) != SQL_OK) return raise_db(self->db, "cannot prepare");
    self->head = self->tail = NULL;
    self->queued = self->busy = self->stopping = self->failed = 0;
    self->submitted = self->completed = 0;
    self->error = NULL;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->work_cv, NULL);
    pthread_cond_init(&self->done_cv, NULL);
    if (pthread_create(&self->thread, NULL, worker_main, self) != 0) {
        PyErr_SetString(BulkError, "cannot start the loader's thread");
        return -1;
    }
    self->started = 1;
    return 0;
}

static void Loader_dealloc(Loader *self) {
    loader_shutdown(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int need_open(Loader *self) {
    if (self->db == NULL || !self->started) {
        PyErr_SetString(BulkError, "the loader is closed");
        return -1;
    }
    return 0;
}

static Job *sql_job(PyObject *arg) {
    Py_ssize_t n;
    const char *sql = PyUnicode_AsUTF8AndSize(arg, &n);
    if (sql == NULL) return NULL;
    Job *job = calloc(1, sizeof(Job));
    if (job != NULL) job->sql = malloc((size_t)n + 1);
    if (job == NULL || job->sql == NULL) {
        if (job != NULL) free(job);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(job->sql, sql, (size_t)n + 1);
    return job;
}

static PyObject *Loader_submit_sql(Loader *self, PyObject *arg) {
    if (need_open(self) < 0) return NULL;
    Job *job = sql_job(arg);
    if (job == NULL) return NULL;
    long long seq = enqueue(self, job);
    if (seq < 0) return NULL;
    return PyLong_FromLongLong(seq);
}

static PyObject *Loader_completed(Loader *self, PyObject *Py_UNUSED(ignored)) {
    if (need_open(self) < 0) return NULL;
    pthread_mutex_lock(&self->mu);
    long long done = self->completed;
    pthread_mutex_unlock(&self->mu);
    return PyLong_FromLongLong(done);
}

static PyObject *Loader_execute(Loader *self, PyObject *arg) {
    if (need_open(self) < 0) return NULL;
    if (drain(self)) return raise_failure(self);
    Job *job = sql_job(arg);
    if (job == NULL || enqueue(self, job) < 0) return NULL;
    if (drain(self)) return raise_failure(self);
    Py_RETURN_NONE;
}

static PyObject *Loader_wait(Loader *self, PyObject *Py_UNUSED(ignored)) {
    if (need_open(self) < 0) return NULL;
    if (drain(self)) return raise_failure(self);
    Py_RETURN_NONE;
}

static PyObject *Loader_discard(Loader *self, PyObject *Py_UNUSED(ignored)) {
    /* Skip whatever is still queued, wait for the job under way, forget any failure. */
    if (need_open(self) < 0) return NULL;
    pthread_mutex_lock(&self->mu);
    self->failed = 1;
    pthread_mutex_unlock(&self->mu);
    drain(self);
    pthread_mutex_lock(&self->mu);
    self->failed = 0;
    free(self->error);
    self->error = NULL;
    pthread_mutex_unlock(&self->mu);
    Py_RETURN_NONE;
}

typedef struct {
    Cell *cells;
    char *arena;
    Py_ssize_t rows, cap, used, room;
} Build;

/* Append a str or None as a cell; its UTF-8 is copied into the arena. */
static int put_text(Build *b, PyObject *obj, Cell *cell) {
    if (obj == Py_None) {
        *cell = (Cell){0, 0, CELL_NULL};
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "expected str or None, got %.80s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(obj, &n);
    if (text == NULL) return -1;
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "value too long for SQLite");
        return -1;
    }
    if (b->used + n > b->room) {
        Py_ssize_t room = (b->room + n) * 2;
        char *grown = realloc(b->arena, (size_t)room);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->arena = grown;
        b->room = room;
    }
    memcpy(b->arena + b->used, text, (size_t)n);
    *cell = (Cell){b->used, (int)n, CELL_TEXT};
    b->used += n;
    return 0;
}

static PyObject *Loader_submit_records(Loader *self, PyObject *args) {
    long long set_id;
    PyObject *records;
    if (!PyArg_ParseTuple(args, "LO!", &set_id, &PyList_Type, &records)) return NULL;
    if (need_open(self) < 0) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(records);
    Build b = {NULL, NULL, 0, count * 2 + 8, 0, count * 160 + 1024};
    b.cells = malloc(sizeof(Cell) * NCOLS * (size_t)b.cap);
    b.arena = malloc((size_t)b.room);
    if (b.cells == NULL || b.arena == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(records); r++) {
        PyObject *rec = PyList_GET_ITEM(records, r);
        if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) != 8) {
            PyErr_SetString(PyExc_TypeError, "each record must be an 8-tuple");
            goto fail;
        }
        long long number = PyLong_AsLongLong(PyTuple_GET_ITEM(rec, 0));
        if (number == -1 && PyErr_Occurred()) goto fail;
        PyObject *hashes = PyTuple_GET_ITEM(rec, 1);
        if (!PyDict_Check(hashes)) {
            PyErr_SetString(PyExc_TypeError, "a record's hashes must be a dict");
            goto fail;
        }
        Cell shared[6]; /* scheme, value, series, flags, comments, extra */
        for (int k = 0; k < 6; k++)
            if (put_text(&b, PyTuple_GET_ITEM(rec, 2 + k), &shared[k]) < 0) goto fail;
        Py_ssize_t pos = 0;
        PyObject *kind, *digest;
        int first = 1;
        while (PyDict_Next(hashes, &pos, &kind, &digest)) {
            if (b.rows == b.cap) {
                Cell *grown = realloc(b.cells, sizeof(Cell) * NCOLS * (size_t)(b.cap * 2));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto fail;
                }
                b.cells = grown;
                b.cap *= 2;
            }
            Cell *row = b.cells + b.rows * NCOLS;
            row[0] = (Cell){set_id, 0, CELL_INT};
            row[1] = (Cell){number, 0, CELL_INT};
            if (put_text(&b, kind, &row[2]) < 0 || put_text(&b, digest, &row[3]) < 0) goto fail;
            for (int k = 0; k < 4; k++) row[4 + k] = shared[k];
            row[8] = first ? shared[4] : (Cell){0, 0, CELL_NULL};
            row[9] = first ? shared[5] : (Cell){0, 0, CELL_NULL};
            first = 0;
            b.rows++;
        }
    }
    Job *job = calloc(1, sizeof(Job));
    if (job == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    job->cells = b.cells;
    job->arena = b.arena;
    job->rows = b.rows;
    if (enqueue(self, job) < 0) return NULL;
    return PyLong_FromSsize_t(b.rows);
fail:
    free(b.cells);
    free(b.arena);
    return NULL;
}

static PyObject *Loader_close(Loader *self, PyObject *Py_UNUSED(ignored)) {
    loader_shutdown(self);
    Py_RETURN_NONE;
}

static PyObject *Loader_version(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(api.ready ? api.libversion() : "");
}

static PyMethodDef Loader_methods[] = {
    {"submit_records", (PyCFunction)Loader_submit_records, METH_VARARGS,
     "Queue the entry rows of (record_no, hashes, scheme, value, series, flags, comments, extra) records; "
     "the number of rows."},
    {"submit_sql", (PyCFunction)Loader_submit_sql, METH_O, "Queue SQL statements (no results); the job's number."},
    {"completed", (PyCFunction)Loader_completed, METH_NOARGS,
     "The number of the last job that ran to its end (jobs run in the order queued)."},
    {"execute", (PyCFunction)Loader_execute, METH_O, "Wait for the queue, then run SQL statements and wait."},
    {"wait", (PyCFunction)Loader_wait, METH_NOARGS, "Wait until the queue is done; raise its first failure."},
    {"discard", (PyCFunction)Loader_discard, METH_NOARGS, "Skip the queue, wait, forget any failure."},
    {"close", (PyCFunction)Loader_close, METH_NOARGS, "Stop the thread (skipping the queue), close the connection."},
    {"sqlite_version", (PyCFunction)Loader_version, METH_NOARGS, "The SQLite library version in use."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LoaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cairn.store._bulkinsert.Loader",
    .tp_basicsize = sizeof(Loader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A connection and thread of its own that insert hash-set entry rows in bulk.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loader_init,
    .tp_dealloc = (destructor)Loader_dealloc,
    .tp_methods = Loader_methods,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_bulkinsert", "Bulk insert of hash-set entry rows.", -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__bulkinsert(void) {
    if (PyType_Ready(&LoaderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    BulkError = PyErr_NewException("cairn.store._bulkinsert.Error", PyExc_RuntimeError, NULL);
    if (BulkError == NULL || PyModule_AddObject(m, "Error", BulkError) < 0) return NULL;
    Py_INCREF(&LoaderType);
    if (PyModule_AddObject(m, "Loader", (PyObject *)&LoaderType) < 0) return NULL;
    return m;
}
