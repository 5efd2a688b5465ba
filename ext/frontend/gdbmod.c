/* _goheap: the CPython extension GDB loads (built for GDB's embedded
 * Python 3.11).  It exposes the same command table and output layer as the
 * CLI; goheap.py registers the GDB commands on top of it.
 *
 *   _goheap.commands() -> [(name, usage, summary, help), ...]
 *   _goheap.Session(core=None, exe=None, pid=0, arch=None, threads=None, reader=None)
 *       core:    a core file (read directly, as the CLI does);
 *       pid:     a live process the caller (GDB) keeps stopped: memory is
 *                read through /proc/PID/mem, threads come from the caller;
 *       reader:  callable(addr, size) -> bytes|None, for targets GDB reaches
 *                remotely; arch and threads come from the caller.
 *       threads: [(tid, {register name: value})].
 *   _goheap.run(argv, json=False, session=None) -> str
 * Every failure raises _goheap.Error with goheap's one-line message; nothing
 * in here may crash the debugger. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands/commands.h"
#include "../util/timings.h"

static PyObject *GhError;

typedef struct {
	PyObject_HEAD
	struct gh_program *prog;
	PyObject *reader; /* kept alive while the target may call it */
} Session;

static PyObject *raise_err(struct gh_error *err)
{
	PyErr_SetString(GhError, err->msg);
	gh_error_free(err);
	return NULL;
}

/* Target reads through a Python callable.  Called with the GIL held (goheap
 * runs inside a Python call and never releases it). */
static bool py_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	PyObject *r = PyObject_CallFunction((PyObject *)arg, "KK", (unsigned long long)addr, (unsigned long long)len);
	if (!r) {
		PyErr_Clear();
		return false;
	}
	bool ok = false;
	Py_buffer view;
	if (r != Py_None && PyObject_GetBuffer(r, &view, PyBUF_SIMPLE) == 0) {
		if ((size_t)view.len == len) {
			memcpy(buf, view.buf, len);
			ok = true;
		}
		PyBuffer_Release(&view);
	}
	if (!ok)
		PyErr_Clear();
	Py_DECREF(r);
	return ok;
}

static enum gh_arch parse_arch(const char *s)
{
	if (!s)
		return GH_ARCH_UNKNOWN;
	if (!strcmp(s, "amd64") || strstr(s, "x86-64") || strstr(s, "x86_64"))
		return GH_ARCH_AMD64;
	if (!strcmp(s, "arm64") || strstr(s, "aarch64"))
		return GH_ARCH_ARM64;
	return GH_ARCH_UNKNOWN;
}

static struct gh_error *add_threads(struct gh_target *t, PyObject *threads)
{
	if (!threads || threads == Py_None)
		return NULL;
	PyObject *it = PyObject_GetIter(threads);
	if (!it)
		return gh_errorf(GH_ERR_USAGE, "threads must be a list of (tid, {register: value})");
	PyObject *item;
	struct gh_error *err = NULL;
	while (!err && (item = PyIter_Next(it))) {
		long long tid;
		PyObject *regs;
		if (!PyArg_ParseTuple(item, "LO!", &tid, &PyDict_Type, &regs)) {
			err = gh_errorf(GH_ERR_USAGE, "threads must be a list of (tid, {register: value})");
		} else {
			struct gh_regs r = { .arch = t->arch, .n = gh_regs_count(t->arch) };
			PyObject *k, *v;
			Py_ssize_t pos = 0;
			while (PyDict_Next(regs, &pos, &k, &v)) {
				const char *name = PyUnicode_AsUTF8(k);
				if (!name)
					break;
				if (!strcmp(name, "cpsr"))
					name = "pstate";
				int idx = gh_reg_index(t->arch, name);
				unsigned long long val = PyLong_AsUnsignedLongLongMask(v);
				if (idx >= 0)
					r.r[idx] = val;
			}
			err = gh_target_add_thread(t, tid, &r);
		}
		Py_DECREF(item);
	}
	Py_DECREF(it);
	PyErr_Clear();
	return err;
}

static int Session_init(Session *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "core", "exe", "pid", "arch", "threads", "reader", NULL };
	const char *core = NULL, *exe = NULL, *arch = NULL;
	int pid = 0;
	PyObject *threads = NULL, *reader = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzizOO", kwlist, &core, &exe, &pid, &arch, &threads, &reader))
		return -1;
	if (self->prog) {
		PyErr_SetString(GhError, "session already open");
		return -1;
	}
	struct gh_target *t = NULL;
	struct gh_error *err = NULL;
	if (core) {
		err = gh_target_open_core(core, &t);
	} else {
		enum gh_arch a = parse_arch(arch);
		if (a == GH_ARCH_UNKNOWN)
			err = gh_errorf(GH_ERR_UNSUPPORTED, "unsupported architecture '%s': goheap reads amd64 and arm64",
					arch ? arch : "(none)");
		else if (reader && reader != Py_None) {
			if (!PyCallable_Check(reader))
				err = gh_errorf(GH_ERR_USAGE, "reader must be callable");
			else if (!(err = gh_target_open_callback(a, py_read, reader, &t))) {
				Py_INCREF(reader);
				self->reader = reader;
			}
		} else if (pid > 0)
			err = gh_target_open_stopped_pid(pid, a, &t);
		else
			err = gh_errorf(GH_ERR_USAGE, "no target: give core, pid or reader");
		if (!err)
			err = add_threads(t, threads);
	}
	if (!err)
		err = gh_program_from_target(t, exe, &self->prog);
	else
		gh_target_close(t);
	if (err) {
		raise_err(err);
		return -1;
	}
	return 0;
}

static void Session_dealloc(Session *self)
{
	gh_program_close(self->prog);
	Py_XDECREF(self->reader);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SessionType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_goheap.Session",
	.tp_basicsize = sizeof(Session),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A Go program opened for inspection (core, stopped process, or debugger reader).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Session_init,
	.tp_dealloc = (destructor)Session_dealloc,
};

static PyObject *py_run(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "argv", "json", "session", "timings", NULL };
	PyObject *argv_obj, *session = Py_None;
	int json = 0, timings = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pOp", kwlist, &argv_obj, &json, &session, &timings))
		return NULL;
	if (session != Py_None && !PyObject_TypeCheck(session, &SessionType)) {
		PyErr_SetString(PyExc_TypeError, "session must be a _goheap.Session");
		return NULL;
	}
	PyObject *seq = PySequence_Fast(argv_obj, "argv must be a list of strings");
	if (!seq)
		return NULL;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	char **argv = calloc((size_t)n + 1, sizeof(char *));
	PyObject *result = NULL;
	if (!argv) {
		PyErr_NoMemory();
		goto out;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
		if (!s)
			goto out;
		argv[i] = (char *)s;
	}
	struct gh_out *o = gh_out_new();
	if (!o) {
		PyErr_NoMemory();
		goto out;
	}
	struct gh_program *prog = session == Py_None ? NULL : ((Session *)session)->prog;
	gh_timings_reset(timings);
	double t0 = gh_phase_begin();
	struct gh_error *err = gh_command_run(prog, (int)n, argv, o);
	gh_phase_end("command", t0);
	char *buf = NULL;
	size_t len = 0;
	if (!err) {
		FILE *f = open_memstream(&buf, &len);
		if (!f)
			err = gh_errorf(GH_ERR_NOMEM, "cannot allocate the output buffer");
		else {
			t0 = gh_phase_begin();
			err = gh_out_render(o, json ? GH_JSON : GH_TEXT, f);
			fclose(f);
			gh_phase_end("output", t0);
		}
	}
	gh_out_free(o);
	if (err)
		raise_err(err);
	else
		result = PyUnicode_DecodeUTF8(buf ? buf : "", (Py_ssize_t)len, "replace");
	free(buf);
out:
	free(argv);
	Py_DECREF(seq);
	return result;
}

/* The phases of the last command run with timings=True, as text or JSON. */
static PyObject *py_timings(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "json", NULL };
	int json = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &json))
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return PyErr_NoMemory();
	gh_timings_write(f, json);
	fclose(f);
	PyObject *r = PyUnicode_DecodeUTF8(buf ? buf : "", (Py_ssize_t)len, "replace");
	free(buf);
	return r;
}

static PyObject *py_commands(PyObject *mod, PyObject *noargs)
{
	PyObject *l = PyList_New(0);
	for (size_t i = 0; l && i < gh_ncommands; i++) {
		const struct gh_command *c = &gh_commands[i];
		PyObject *t = Py_BuildValue("(ssssO)", c->name, c->usage, c->summary, c->help,
					    c->needs_program ? Py_True : Py_False);
		if (!t || PyList_Append(l, t)) {
			Py_XDECREF(t);
			Py_DECREF(l);
			return NULL;
		}
		Py_DECREF(t);
	}
	return l;
}

static PyObject *py_value_text(PyObject *mod, PyObject *args);

static PyMethodDef methods[] = {
	{ "run", (PyCFunction)(void (*)(void))py_run, METH_VARARGS | METH_KEYWORDS,
	  "run(argv, json=False, session=None, timings=False) -> str: run one goheap command and return its output\n"
	  "(timings=True records its phases for timings())." },
	{ "timings", (PyCFunction)(void (*)(void))py_timings, METH_VARARGS | METH_KEYWORDS,
	  "timings(json=False) -> str: the wall time and memory of each phase of the last command run with\n"
	  "timings=True (empty otherwise)." },
	{ "commands", py_commands, METH_NOARGS, "commands() -> [(name, usage, summary, help, needs_target)]" },
	{ "value_text", py_value_text, METH_VARARGS,
	  "value_text(session, addr, type_name=None) -> str: the Go value at addr as goheap prints it\n"
	  "(type_name None: an interface value, empty or not)." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "_goheap", "goheap's C core, for GDB's Python.", -1, methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__goheap(void)
{
	if (PyType_Ready(&SessionType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&moddef);
	if (!m)
		return NULL;
	GhError = PyErr_NewException("_goheap.Error", NULL, NULL);
	Py_INCREF(GhError);
	Py_INCREF(&SessionType);
	if (PyModule_AddObject(m, "Error", GhError) || PyModule_AddObject(m, "Session", (PyObject *)&SessionType)) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}

/* For the pretty printers (goheap_printers.py): one value as text, by its
 * runtime type, e.g. an interface as its dynamic type and value. */
#include "../gostructs/values.h"

static PyObject *py_value_text(PyObject *mod, PyObject *args)
{
	PyObject *session;
	unsigned long long addr;
	const char *type_name = NULL;
	if (!PyArg_ParseTuple(args, "O!K|z", &SessionType, &session, &addr, &type_name))
		return NULL;
	struct gh_program *p = ((Session *)session)->prog;
	struct gh_heap *h;
	struct gh_types *T;
	struct gh_error *err = gh_cmd_heap(p, &h);
	if (!err)
		err = gh_cmd_types(p, &T);
	if (err)
		return raise_err(err);
	gh_type_id id = type_name ? gh_type_by_name(T, type_name) : 0;
	if (type_name && !id) {
		PyErr_Format(GhError, "no Go type named '%s' in the program", type_name);
		return NULL;
	}
	struct gh_value_ctx c = { p, h, T };
	char buf[1024];
	gh_value_text(&c, addr, id, buf, sizeof(buf));
	return PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
}
