/*
 * sigmoidnet._csvparse: a fast path for all-numeric CSV bodies.
 *
 * Parses delimited decimal numbers straight into float32 arrays, correctly rounded, with
 * the GIL released so that several threads can each take a byte range of one file.
 * It accepts only a plain dialect: unquoted fields of the form
 *     [+-]? digits [. digits] [(e|E) [+-]? digits]     (at least one mantissa digit)
 * separated by one delimiter byte (',' ';' '\t' or '|', the caller's choice) with rows
 * ending in "\n" or "\r\n", and finite float32 results. Empty
 * lines are skipped at the end of the range only: an empty line followed by a row defers
 * (the caller refuses empty lines between rows; those that end a file are ignored).
 * Anything else -- quotes, spaces or tabs around a number (pyarrow trims them; this parser
 * never skips whitespace, so a tab is only ever a delimiter), text, empty cells, missing-
 * value tokens (NA, nan, ...: no digit, so never a number here), a wrong number of fields,
 * a value that overflows float32 -- stops the parse with status DEFER, and the
 * caller reads the file with pyarrow instead, which accepts or diagnoses it. The fast path
 * therefore never decides what is an error; it only makes the common case fast.
 *
 * Rounding: a decimal with at most 19 significant digits, w * 10^q with w <= 2^53 and
 * |q| <= 22, is rounded once to double (both operands exact: Clinger's fast path). That
 * double lies on the same side of every float32 rounding boundary as the exact value
 * unless it *is* a boundary (boundaries are doubles), so converting it to float is the
 * correctly rounded float32 -- except in that one case, which, like every value outside the
 * fast path, goes to strtof (correctly rounded in glibc, musl, macOS and the MSVC CRT).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { OK = 0, DEFER = 1 };
enum { MAX_TOKEN = 128 };

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Memory-mapped input: give back the pages of [*done, upto) that lie wholly inside
 * [lo, hi), so that a multi-GB file does not stay resident in this process (the data
 * stays in the page cache; a later access just maps it again). Only for file mappings:
 * on anonymous memory MADV_DONTNEED would zero the data, so callers pass drop=0 there.
 */
enum { DROP_EVERY = 1 << 24 };

static void drop_pages(const char *base, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t *done,
                       Py_ssize_t upto) {
#if (defined(__unix__) || defined(__APPLE__)) && defined(MADV_DONTNEED)
    static Py_ssize_t page = 0;
    if (page == 0) page = (Py_ssize_t)sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    Py_ssize_t a = *done > lo ? *done : lo;
    a = (a + page - 1) / page * page;
    Py_ssize_t b = (upto < hi ? upto : hi) / page * page;
    if (b > a) madvise((void *)(base + a), (size_t)(b - a), MADV_DONTNEED);
    if (b > *done) *done = b;
#else
    (void)base, (void)lo, (void)hi, (void)done, (void)upto;
#endif
}

static const double NEG_POW10[23] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                     1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                     1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

/* Is double d (in the float32 normal range) more than 8 ulps from every float32 midpoint? */
static inline int far_from_midpoint(double d) {
    double a = fabs(d);
    if (!(a >= 0x1p-126 && a < 0x1p127)) return 0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint64_t r = bits & 0x1FFFFFFFu;
    return r + 8u - 0x10000000u > 16u; /* unsigned: |r - 0x10000000| > 8 */
}

/* Is double d exactly halfway between two adjacent float32 values? */
static int is_float_midpoint(double d) {
    double a = fabs(d);
    if (a >= 0x1p-126 && a < 0x1p128) { /* float32 normal range: 29 dropped mantissa bits */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return (bits & 0x1FFFFFFFu) == 0x10000000u;
    }
    if (a < 0x1p-126) { /* subnormal range: grid spacing 2^-149 */
        double scaled = a * 0x1p149; /* exact: a power-of-two scaling */
        return scaled - floor(scaled) == 0.5;
    }
    return 0; /* beyond FLT_MAX: overflows anyway */
}

static int slow_float(const char *s, const char *e, float *out) {
    char buf[MAX_TOKEN];
    size_t n = (size_t)(e - s);
    if (n >= MAX_TOKEN) return DEFER;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *endp = NULL;
    errno = 0;
    float v = strtof(buf, &endp);
    if (endp != buf + n || !isfinite(v)) return DEFER;
    *out = v;
    return OK;
}

/* Eight ASCII digits at p, as a little-endian word (fast_float's SWAR digit tricks). */
static inline uint64_t load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline int all8_digits(uint64_t v) {
    return ((v & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
            (((v + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

static inline uint64_t value8(uint64_t v) {
    const uint64_t mask = UINT64_C(0x000000FF000000FF);
    const uint64_t mul1 = UINT64_C(0x000F424000000064); /* 100 + (1000000 << 32) */
    const uint64_t mul2 = UINT64_C(0x0000271000000001); /* 1 + (10000 << 32) */
    v -= UINT64_C(0x3030303030303030);
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return v;
}

static inline uint32_t load4(const char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline int all4_digits(uint32_t v) {
    return ((v & 0xF0F0F0F0u) | (((v + 0x06060606u) & 0xF0F0F0F0u) >> 4)) == 0x33333333u;
}

static inline uint32_t value4(uint32_t v) {
    v -= 0x30303030u;
    v = (v * 10) + (v >> 8); /* bytes 0 and 2: the two 2-digit halves */
    return (v & 0xFFu) * 100 + ((v >> 16) & 0xFFu);
}

/*
 * Parse the number starting at *pp; stops at the first byte that cannot continue it and
 * leaves *pp there. The caller checks that this byte is a field terminator.
 * w collects at most 19 digits (nd counts them, leading zeros of a whole block of eight
 * included, which only ever sends a value to the exact slow path sooner); later digits
 * are dropped, and if any of them is not zero the slow path rounds the whole token.
 */
static inline int parse_float(const char **pp, const char *end, int slow_ok, float *out) {
    const char *s = *pp, *p = s;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = (*p == '-');
        p++;
    }
    uint64_t w = 0;
    int nd = 0, exp10 = 0, any = 0, dropped = 0;
    while (p < end && (unsigned)(*p - '0') < 10u) {
        unsigned d = (unsigned)(*p - '0');
        if (w == 0 && d == 0) {
            /* leading zero */
        } else if (nd < 19) {
            w = w * 10 + d;
            nd++;
        } else {
            exp10++;
            dropped |= (d != 0);
        }
        p++;
        any = 1;
    }
    if (p < end && *p == '.') {
        p++;
        while (end - p >= 8 && nd <= 11) {
            uint64_t v = load8(p);
            if (!all8_digits(v)) break;
            nd = w == 0 ? 8 : nd + 8;
            w = w * 100000000u + value8(v);
            exp10 -= 8;
            p += 8;
            any = 1;
        }
        if (end - p >= 4 && nd <= 15) {
            uint32_t v = load4(p);
            if (all4_digits(v)) {
                nd = w == 0 ? 4 : nd + 4;
                w = w * 10000u + value4(v);
                exp10 -= 4;
                p += 4;
                any = 1;
            }
        }
        while (p < end && (unsigned)(*p - '0') < 10u) {
            unsigned d = (unsigned)(*p - '0');
            if (w == 0 && d == 0) {
                exp10--;
            } else if (nd < 19) {
                w = w * 10 + d;
                nd++;
                exp10--;
            } else {
                dropped |= (d != 0);
            }
            p++;
            any = 1;
        }
    }
    if (!any) return DEFER;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '-' || *p == '+')) {
            eneg = (*p == '-');
            p++;
        }
        if (!(p < end && (unsigned)(*p - '0') < 10u)) return DEFER;
        long ev = 0;
        while (p < end && (unsigned)(*p - '0') < 10u) {
            if (ev < 100000) ev = ev * 10 + (*p - '0'); /* capped: MAX_TOKEN decides */
            p++;
        }
        exp10 += (int)(eneg ? -ev : ev);
    }
    *pp = p;
    /* A token this long may carry more leading zeros or exponent digits than exp10 and
       the capped ev can count; strtof needs a copy under MAX_TOKEN anyway: defer. */
    if (p - s >= MAX_TOKEN) return DEFER;
    if (w == 0) {
        *out = neg ? -0.0f : 0.0f;
        return OK;
    }
    if (!dropped && w <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)w;
        if (exp10 < 0) {
            /* w * RN(10^-k) is within 3 ulps of the exact quotient (two roundings of
               2^-53 each, relative): if no float32 boundary lies within 8 ulps, it rounds
               to the same float32, without a division */
            double m = d * NEG_POW10[-exp10];
            if (far_from_midpoint(m)) {
                float f = (float)m;
                *out = neg ? -f : f;
                return OK;
            }
        }
        d = exp10 >= 0 ? d * POW10[exp10] : d / POW10[-exp10];
        if (!is_float_midpoint(d)) {
            float f = (float)d;
            if (!isfinite(f)) return DEFER;
            *out = neg ? -f : f;
            return OK;
        }
    }
    if (!slow_ok) return DEFER;
    return slow_float(s, p, out);
}

typedef struct {
    const char *src;
    Py_ssize_t start, end, ncols;
    const int32_t *dest;
    float *x;
    Py_ssize_t xw;
    float *y;
    Py_ssize_t yw;
    Py_ssize_t max_rows;
    int slow_ok, drop;
    char delim; /* the field delimiter */
    /* results */
    Py_ssize_t rows;
    Py_ssize_t defer_at; /* byte offset where the parse stopped, or -1 */
} Job;

static void run_parse(Job *j) {
    /* locals, not j->...: the float stores below cannot then be taken to alias them */
    const char *const src = j->src;
    const char *p = src + j->start, *const end = src + j->end;
    const Py_ssize_t ncols = j->ncols, xw = j->xw, yw = j->yw, max_rows = j->max_rows;
    const int32_t *const dest = j->dest;
    const int slow_ok = j->slow_ok, drop = j->drop;
    const char delim = j->delim;
    Py_ssize_t row = 0;
    int blank = 0; /* an empty line since the last row */
    float *xr = j->x, *yr = j->y;
    Py_ssize_t dropped = j->start, next_drop = j->start + DROP_EVERY;
    j->defer_at = -1;
    while (p < end) {
        if (drop && p - src >= next_drop) {
            drop_pages(src, j->start, j->end, &dropped, p - src);
            next_drop += DROP_EVERY;
        }
        if (*p == '\n') { /* empty line */
            p++;
            blank = 1;
            continue;
        }
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            blank = 1;
            continue;
        }
        if (blank) goto defer; /* a row after an empty line */
        if (row >= max_rows) goto defer;
        for (Py_ssize_t c = 0; c < ncols; c++) {
            int32_t k = dest[c];
            if (k == -1) { /* a column nobody asked for: skip it, but no quoting there */
                while (p < end && *p != delim && *p != '\n' && *p != '\r') {
                    if (*p == '"') goto defer;
                    p++;
                }
            } else {
                float v;
                if (parse_float(&p, end, slow_ok, &v) != OK) goto defer;
                if (k >= 0)
                    xr[k] = v;
                else
                    yr[-2 - k] = v;
            }
            if (c + 1 < ncols) {
                if (p >= end || *p != delim) goto defer; /* too few fields, or junk */
                p++;
            }
        }
        if (p < end) {
            if (*p == '\n') {
                p++;
            } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
                p += 2;
            } else {
                goto defer; /* too many fields, junk after a number, or a bare '\r' */
            }
        }
        row++;
        xr += xw;
        yr += yw;
    }
    j->rows = row;
    if (drop) drop_pages(src, j->start, j->end, &dropped, j->end);
    return;
defer:
    j->rows = row;
    j->defer_at = (Py_ssize_t)(p - src);
}

static int need_contiguous(Py_buffer *b, const char *what, Py_ssize_t need) {
    if (b->len < need) {
        PyErr_Format(PyExc_ValueError, "%s buffer too small (%zd < %zd bytes)", what, b->len,
                     need);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(parse_doc,
             "parse(src, start, end, ncols, dest, x, xw, y, yw, max_rows, drop, delim=',')\n"
             "    -> (rows, defer_at)\n"
             "\n"
             "Parse the CSV rows in src[start:end] (complete lines, no header), fields\n"
             "separated by delim (one of ',', ';', '\\t', '|'). Field c of a\n"
             "row goes to x[row, dest[c]] when dest[c] >= 0, to y[row, -2 - dest[c]] when\n"
             "dest[c] <= -2, and is skipped when dest[c] == -1. x and y are writable float32\n"
             "buffers of row width xw and yw with room for max_rows rows. Returns the rows\n"
             "written and -1, or, when the input leaves the plain numeric dialect, the rows\n"
             "written so far and the byte offset where parsing stopped (an empty line\n"
             "followed by a row stops it too). drop=1 (only for a\n"
             "read-only file mapping) unmaps the pages of the range once parsed. Releases\n"
             "the GIL.");

static PyObject *py_parse(PyObject *self, PyObject *args) {
    Py_buffer src = {0}, dest = {0}, x = {0}, y = {0};
    Job j;
    int delim = ',';
    memset(&j, 0, sizeof j);
    if (!PyArg_ParseTuple(args, "y*nnny*w*nw*nnp|C", &src, &j.start, &j.end, &j.ncols, &dest,
                          &x, &j.xw, &y, &j.yw, &j.max_rows, &j.drop, &delim))
        return NULL;
    PyObject *result = NULL;
    if (delim != ',' && delim != ';' && delim != '\t' && delim != '|') {
        PyErr_SetString(PyExc_ValueError, "delim must be one of ',', ';', '\\t', '|'");
        goto done;
    }
    j.delim = (char)delim;
    if (j.start < 0 || j.end > src.len || j.start > j.end || j.ncols <= 0 || j.xw < 0 ||
        j.yw < 0 || j.max_rows < 0) {
        PyErr_SetString(PyExc_ValueError, "bad range or sizes");
        goto done;
    }
    if (need_contiguous(&dest, "dest", j.ncols * (Py_ssize_t)sizeof(int32_t)) ||
        need_contiguous(&x, "x", j.max_rows * j.xw * (Py_ssize_t)sizeof(float)) ||
        need_contiguous(&y, "y", j.max_rows * j.yw * (Py_ssize_t)sizeof(float)))
        goto done;
    const int32_t *dv = (const int32_t *)dest.buf;
    for (Py_ssize_t c = 0; c < j.ncols; c++) {
        if (dv[c] >= j.xw || (dv[c] <= -2 && -2 - dv[c] >= j.yw)) {
            PyErr_SetString(PyExc_ValueError, "dest index out of range");
            goto done;
        }
    }
    j.src = (const char *)src.buf;
    j.dest = dv;
    j.x = (float *)x.buf;
    j.y = (float *)y.buf;
    /* strtof reads the decimal point from the C locale; Python keeps LC_NUMERIC at "C",
       but an embedding program may not */
    const char *point = localeconv()->decimal_point;
    j.slow_ok = point != NULL && strcmp(point, ".") == 0;
    Py_BEGIN_ALLOW_THREADS;
    run_parse(&j);
    Py_END_ALLOW_THREADS;
    result = Py_BuildValue("(nn)", j.rows, j.defer_at);
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dest);
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

PyDoc_STRVAR(count_doc,
             "count_lines(src, start, end, drop) -> int\n"
             "\n"
             "The number of '\\n' bytes in src[start:end]; drop as for parse. Releases the\n"
             "GIL.");

static PyObject *py_count_lines(PyObject *self, PyObject *args) {
    Py_buffer src = {0};
    Py_ssize_t start, end, count = 0;
    int drop = 0;
    if (!PyArg_ParseTuple(args, "y*nnp", &src, &start, &end, &drop)) return NULL;
    if (start < 0 || end > src.len || start > end) {
        PyBuffer_Release(&src);
        PyErr_SetString(PyExc_ValueError, "bad range");
        return NULL;
    }
    const char *base = (const char *)src.buf;
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t done = start;
    for (Py_ssize_t a = start; a < end; a += DROP_EVERY) {
        Py_ssize_t b = end - a > DROP_EVERY ? a + DROP_EVERY : end;
        const char *p = base + a, *e = base + b;
        while (p < e) {
            const char *q = memchr(p, '\n', (size_t)(e - p));
            if (q == NULL) break;
            count++;
            p = q + 1;
        }
        if (drop) drop_pages(base, start, end, &done, b);
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(count);
}

PyDoc_STRVAR(skip_doc,
             "skip_lines(src, start, end, n) -> int\n"
             "\n"
             "The offset just after the n-th '\\n' in src[start:end], or end when there are\n"
             "fewer. Releases the GIL.");

static PyObject *py_skip_lines(PyObject *self, PyObject *args) {
    Py_buffer src = {0};
    Py_ssize_t start, end, n, pos;
    if (!PyArg_ParseTuple(args, "y*nnn", &src, &start, &end, &n)) return NULL;
    if (start < 0 || end > src.len || start > end || n < 0) {
        PyBuffer_Release(&src);
        PyErr_SetString(PyExc_ValueError, "bad range");
        return NULL;
    }
    const char *base = (const char *)src.buf;
    Py_BEGIN_ALLOW_THREADS;
    const char *p = base + start, *e = base + end;
    while (n > 0 && p < e) {
        const char *q = memchr(p, '\n', (size_t)(e - p));
        if (q == NULL) {
            p = e;
            break;
        }
        p = q + 1;
        n--;
    }
    pos = (Py_ssize_t)(p - base);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(pos);
}

static PyMethodDef methods[] = {
    {"skip_lines", py_skip_lines, METH_VARARGS, skip_doc},
    {"parse", py_parse, METH_VARARGS, parse_doc},
    {"count_lines", py_count_lines, METH_VARARGS, count_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_csvparse",
    "Fast path for all-numeric CSV bodies (see sigmoidnet/_csvparse.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__csvparse(void) { return PyModule_Create(&module); }
