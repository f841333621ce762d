/* avro-c's generic reader, rendered into the decoder's normalized text
 * (see avro_generic.h). The reading is avro-c's; the rendering walks the
 * avro_value_t with the schema tree da_compile_schema() built and calls the
 * same formatters (types.c) as avro.c, so that any difference between the
 * two is a difference in how the bytes were read. */
#include "decode/avro_generic.h"

#include "decode_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#define MAX_DEPTH 64

typedef enum gkind { GK_ENVELOPE, GK_ROW, GK_META } gkind_t;

struct dgen {
    darena_t arena;
    const dsch_t *root;
    gkind_t kind;
    avro_schema_t as;
    avro_value_iface_t *iface;
    avro_value_t val;
    bool have_val;
    avro_reader_t rd;
    dph_t ph;
    cdc_buf_t tmp; /* one column's text while a row is rendered */
};

dgen_t *dgen_new(const char *schema, size_t len, const char *placeholder, char *errstr,
                 size_t errstr_size)
{
    dgen_t *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    dph_init(&g->ph, placeholder);
    g->root = da_compile_schema(&g->arena, schema, len, errstr, errstr_size);
    if (!g->root)
        goto fail;
    if (avro_schema_from_json_length(schema, len, &g->as) != 0) {
        snprintf(errstr, errstr_size, "avro-c: %s", avro_strerror());
        goto fail;
    }
    g->iface = avro_generic_class_from_schema(g->as);
    if (!g->iface || avro_generic_value_new(g->iface, &g->val) != 0) {
        snprintf(errstr, errstr_size, "avro-c: %s", avro_strerror());
        goto fail;
    }
    g->have_val = true;
    g->rd = avro_reader_memory("", 0);
    return g;
fail:
    dgen_destroy(g);
    return NULL;
}

void dgen_destroy(dgen_t *g)
{
    if (!g)
        return;
    if (g->rd)
        avro_reader_free(g->rd);
    if (g->have_val)
        avro_value_decref(&g->val);
    if (g->iface)
        avro_value_iface_decref(g->iface);
    if (g->as)
        avro_schema_decref(g->as);
    dph_free(&g->ph);
    cdc_buf_free(&g->tmp);
    darena_free(&g->arena);
    free(g);
}

bool dgen_is_envelope(const dgen_t *g)
{
    return g->kind == GK_ENVELOPE;
}

/* The record kind by the decoder's own classifier (classify.c), as
 * da_decode_value() asks it. */
static gkind_t classify(const dgen_t *g, const char *topic)
{
    const dsch_t *rs = dsch_unwrap(g->root);
    if (rs->type != DT_STRUCT)
        return GK_ROW;
    dshape_t sh = {rs->name, true, 0, 0, rs->nfields};
    for (size_t i = 0; i < rs->nfields; i++)
        sh.fields |= dclass_field(rs->fields[i].name, strlen(rs->fields[i].name));
    sh.typed = sh.fields;
    switch (dclassify(&sh, topic)) {
    case DC_ENVELOPE: return GK_ENVELOPE;
    case DC_FLAT: return GK_ROW;
    default: return GK_META;
    }
}

int dgen_read(dgen_t *g, const char *topic, const uint8_t *p, size_t n, char *errstr,
              size_t errstr_size)
{
    g->kind = classify(g, topic);
    avro_reader_memory_set_source(g->rd, (const char *)p, (int64_t)n);
    avro_value_reset(&g->val);
    if (avro_value_read(g->rd, &g->val) != 0) {
        snprintf(errstr, errstr_size, "avro-c: %s", avro_strerror());
        return -1;
    }
    char extra;
    if (avro_read(g->rd, &extra, 1) == 0) {
        snprintf(errstr, errstr_size, "avro-c: bytes left after the datum");
        return -1;
    }
    return 0;
}

/* ---- rendering: the avro.c formatting, reading from an avro_value_t ---- */

typedef struct gctx {
    char *err;
    size_t errsz;
    int depth;
} gctx_t;

static int gerr(gctx_t *c, const char *msg)
{
    snprintf(c->err, c->errsz, "%s", msg);
    return -1;
}

static int gfmt(gctx_t *c, const dsch_t *s, avro_value_t *v, cdc_buf_t *out, bool *isnull);

/* The current branch of a union value and its schema. */
static int gbranch(gctx_t *c, const dsch_t **s, avro_value_t *v, avro_value_t *br)
{
    int disc;
    if (avro_value_get_discriminant(v, &disc) != 0 || disc < 0 || (size_t)disc >= (*s)->nbranches ||
        avro_value_get_current_branch(v, br) != 0)
        return gerr(c, "avro-c: union without a branch");
    *s = (*s)->branches[disc];
    return 0;
}

static int gscalar(gctx_t *c, const dsch_t *s, avro_value_t *v, dsem_scal_t *out)
{
    memset(out, 0, sizeof(*out));
    avro_value_t cur = *v, br;
    while (s->type == DT_UNION) {
        if (gbranch(c, &s, &cur, &br) != 0)
            return -1;
        cur = br;
    }
    int32_t i32 = 0;
    float f = 0;
    const void *p = NULL;
    switch (s->type) {
    case DT_NULL: out->isnull = true; return 0;
    case DT_INT8:
    case DT_INT16:
    case DT_INT32:
        avro_value_get_int(&cur, &i32);
        out->i = i32;
        return 0;
    case DT_INT64: avro_value_get_long(&cur, &out->i); return 0;
    case DT_FLOAT32:
        avro_value_get_float(&cur, &f);
        out->d = (double)f;
        return 0;
    case DT_FLOAT64: avro_value_get_double(&cur, &out->d); return 0;
    case DT_STRING:
        avro_value_get_string(&cur, (const char **)&p, &out->n);
        out->b = p;
        if (out->n) /* avro-c counts the NUL */
            out->n--;
        return 0;
    case DT_BYTES:
        avro_value_get_bytes(&cur, &p, &out->n);
        out->b = p;
        return 0;
    default: {
        cdc_buf_t tmp = CDC_BUF_INIT;
        bool isnull;
        int rc = gfmt(c, s, &cur, &tmp, &isnull);
        cdc_buf_free(&tmp);
        return rc;
    }
    }
}

typedef struct gfield_arg {
    gctx_t *c;
    const dsch_t *s;
    avro_value_t *v;
} gfield_arg_t;

/* Field @p i of the record into *f. */
static int gfield(gfield_arg_t *a, size_t i, avro_value_t *f)
{
    return avro_value_get_by_index(a->v, i, f, NULL) != 0
               ? gerr(a->c, "avro-c: record field missing")
               : 0;
}

static int gmember(void *arg, size_t i, dsem_scal_t *m)
{
    gfield_arg_t *a = arg;
    avro_value_t f;
    return gfield(a, i, &f) != 0 ? -1 : gscalar(a->c, a->s->fields[i].sch, &f, m);
}

static int gfmt_field(void *arg, size_t i, cdc_buf_t *val, bool *isnull)
{
    gfield_arg_t *a = arg;
    avro_value_t f;
    return gfield(a, i, &f) != 0 ? -1 : gfmt(a->c, a->s->fields[i].sch, &f, val, isnull);
}

static int gstruct_sem(gctx_t *c, const dsch_t *s, avro_value_t *v, cdc_buf_t *out)
{
    gfield_arg_t a = {c, s, v};
    size_t n = 0;
    int rc = dfmt_sem_struct(out, s, gmember, &a, &n);
    if (rc == DSEM_NULLS)
        return gerr(c, "VariableScaleDecimal with nulls");
    if (rc == DSEM_RANGE)
        return gerr(c, "a decimal PostgreSQL cannot hold");
    return rc;
}

static int gblocks(gctx_t *c, const dsch_t *s, avro_value_t *v, cdc_buf_t *out)
{
    bool is_map = s->type == DT_MAP;
    const dsch_t *el = is_map ? s->values : s->items;
    bool raw = dsch_unwrap(el)->type == DT_ARRAY;
    size_t n = 0;
    avro_value_get_size(v, &n);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    if (!is_map)
        cdc_buf_putc(out, '{');
    for (size_t i = 0; i < n && rc == 0; i++) {
        avro_value_t e;
        const char *key = NULL;
        if (avro_value_get_by_index(v, i, &e, &key) != 0) {
            rc = gerr(c, "avro-c: element missing");
            break;
        }
        bool isnull = false;
        cdc_buf_reset(&tmp);
        if ((rc = gfmt(c, el, &e, &tmp, &isnull)) != 0)
            break;
        dfmt_block_elem(out, i, is_map, raw, key, key ? strlen(key) : 0, &tmp, isnull);
    }
    if (!is_map)
        cdc_buf_putc(out, '}');
    cdc_buf_free(&tmp);
    return rc;
}

static int gfmt(gctx_t *c, const dsch_t *s, avro_value_t *v, cdc_buf_t *out, bool *isnull)
{
    *isnull = false;
    int32_t i32 = 0;
    int64_t i64 = 0;
    int b = 0;
    float f = 0;
    double d = 0;
    const void *p = NULL;
    size_t n = 0;
    avro_value_t br;
    switch (s->type) {
    case DT_NULL: *isnull = true; return 0;
    case DT_UNION:
        if (gbranch(c, &s, v, &br) != 0)
            return -1;
        return gfmt(c, s, &br, out, isnull);
    case DT_BOOL:
        avro_value_get_boolean(v, &b);
        cdc_buf_putc(out, b ? 't' : 'f');
        return 0;
    case DT_INT8:
    case DT_INT16:
    case DT_INT32:
        avro_value_get_int(v, &i32);
        dfmt_int_sem(out, s->sem, i32);
        return 0;
    case DT_INT64:
        avro_value_get_long(v, &i64);
        dfmt_int_sem(out, s->sem, i64);
        return 0;
    case DT_FLOAT32:
        avro_value_get_float(v, &f);
        dfmt_float(out, f);
        return 0;
    case DT_FLOAT64:
        avro_value_get_double(v, &d);
        dfmt_double(out, d);
        return 0;
    case DT_STRING:
        avro_value_get_string(v, (const char **)&p, &n);
        dfmt_str_sem(out, s->sem, p, n ? n - 1 : 0); /* avro-c counts the NUL */
        return 0;
    case DT_BYTES:
    case DT_FIXED:
        if (s->type == DT_BYTES)
            avro_value_get_bytes(v, &p, &n);
        else
            avro_value_get_fixed(v, &p, &n);
        if (dfmt_bytes_sem(out, s, p, n) != 0)
            return gerr(c, "a decimal PostgreSQL cannot hold");
        return 0;
    case DT_ENUM:
        avro_value_get_enum(v, &b);
        if (b < 0 || (size_t)b >= s->nsymbols)
            return gerr(c, "avro-c: enum index out of range");
        cdc_buf_puts(out, s->symbols[b]);
        return 0;
    case DT_ARRAY:
    case DT_MAP: {
        if (++c->depth > MAX_DEPTH) {
            c->depth--;
            return gerr(c, "value nested too deep");
        }
        int rc = gblocks(c, s, v, out);
        c->depth--;
        return rc;
    }
    case DT_STRUCT: {
        if (s->sem == SEM_VSDECIMAL || s->sem == SEM_GEOMETRY || s->sem == SEM_GEOGRAPHY ||
            s->sem == SEM_POINT)
            return gstruct_sem(c, s, v, out);
        if (++c->depth > MAX_DEPTH) {
            c->depth--;
            return gerr(c, "value nested too deep");
        }
        gfield_arg_t a = {c, s, v};
        int rc = dfmt_struct_json(out, s, gfmt_field, &a);
        c->depth--;
        return rc;
    }
    }
    return gerr(c, "unsupported schema type");
}

/* A row image (record value, maybe under a union) as {"col": text, ...}. */
static int grow(gctx_t *c, dgen_t *g, const dsch_t *s, avro_value_t *v, cdc_buf_t *out)
{
    avro_value_t cur = *v, br;
    while (s->type == DT_UNION) {
        if (gbranch(c, &s, &cur, &br) != 0)
            return -1;
        cur = br;
    }
    if (s->type == DT_NULL) {
        cdc_buf_puts(out, "null");
        return 0;
    }
    if (s->type != DT_STRUCT)
        return gerr(c, "a row image that is no record");
    cdc_buf_t *tmp = &g->tmp;
    int rc = 0;
    size_t shown = 0;
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < s->nfields && rc == 0; i++) {
        avro_value_t f;
        bool isnull = false;
        cdc_buf_reset(tmp);
        if (avro_value_get_by_index(&cur, i, &f, NULL) != 0) {
            rc = gerr(c, "avro-c: record field missing");
            break;
        }
        if ((rc = gfmt(c, s->fields[i].sch, &f, tmp, &isnull)) != 0)
            break;
        if (g->kind == GK_ROW && dflat_is_meta(s->fields[i].name))
            continue;
        cdc_buf_puts(out, shown++ ? "," : "");
        dfmt_json_str(out, s->fields[i].name, strlen(s->fields[i].name));
        cdc_buf_putc(out, ':');
        if (isnull)
            cdc_buf_puts(out, "null");
        else if (dph_match(&g->ph, s->fields[i].sch, tmp->data ? tmp->data : "", tmp->len))
            cdc_buf_puts(out, "false");
        else
            dfmt_json_str(out, tmp->data ? tmp->data : "", tmp->len);
    }
    cdc_buf_putc(out, '}');
    return rc;
}

int dgen_render(dgen_t *g, cdc_buf_t *out, char *errstr, size_t errstr_size)
{
    gctx_t c = {errstr, errstr_size, 0};
    if (g->kind == GK_META) {
        cdc_buf_puts(out, "{}");
        return 0;
    }
    if (g->kind == GK_ROW) {
        cdc_buf_puts(out, "{\"row\":");
        if (grow(&c, g, g->root, &g->val, out) != 0)
            return -1;
        cdc_buf_putc(out, '}');
        return 0;
    }
    size_t start = out->len;
    avro_value_t rec = g->val, br;
    const dsch_t *s = g->root;
    while (s->type == DT_UNION) {
        if (gbranch(&c, &s, &rec, &br) != 0)
            return -1;
        rec = br;
    }
    avro_value_t f;
    const dfield_t *op = dsch_field(s, "op"), *before = dsch_field(s, "before"),
                   *after = dsch_field(s, "after");
    cdc_buf_puts(out, "{\"op\":");
    if (op && avro_value_get_by_name(&rec, "op", &f, NULL) == 0) {
        cdc_buf_t tmp = CDC_BUF_INIT;
        bool isnull;
        int rc = gfmt(&c, op->sch, &f, &tmp, &isnull);
        if (rc == 0)
            dfmt_json_str(out, isnull ? "" : tmp.data ? tmp.data : "", isnull ? 0 : tmp.len);
        bool message = rc == 0 && !isnull && tmp.len == 1 && tmp.data[0] == 'm';
        cdc_buf_free(&tmp);
        if (rc)
            return -1;
        if (message) { /* a logical decoding message: no row images */
            out->len = start;
            cdc_buf_puts(out, "{}");
            return 0;
        }
    } else {
        cdc_buf_puts(out, "null");
    }
    const dfield_t *img[2] = {before, after};
    for (int k = 0; k < 2; k++) {
        cdc_buf_puts(out, k ? ",\"after\":" : ",\"before\":");
        if (!img[k] || avro_value_get_by_name(&rec, img[k]->name, &f, NULL) != 0)
            cdc_buf_puts(out, "null");
        else if (grow(&c, g, img[k]->sch, &f, out) != 0)
            return -1;
    }
    cdc_buf_putc(out, '}');
    return 0;
}

static void event_row(const cdc_row_t *row, cdc_buf_t *out)
{
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < row->ncols; i++) {
        const cdc_col_t *col = &row->cols[i];
        cdc_buf_puts(out, i ? "," : "");
        dfmt_json_str(out, col->name, strlen(col->name));
        cdc_buf_putc(out, ':');
        if (col->state == CDC_VAL_NULL)
            cdc_buf_puts(out, "null");
        else if (col->state == CDC_VAL_UNAVAILABLE)
            cdc_buf_puts(out, "false");
        else
            dfmt_json_str(out, col->text, col->len);
    }
    cdc_buf_putc(out, '}');
}

void dgen_event_json(const cdc_event_t *ev, bool envelope, cdc_buf_t *out)
{
    if (ev->kind != CDC_KIND_CHANGE) {
        cdc_buf_puts(out, "{}");
        return;
    }
    if (!envelope) {
        cdc_buf_puts(out, "{\"row\":");
        if (ev->has_after)
            event_row(&ev->after, out);
        else if (ev->has_before)
            event_row(&ev->before, out);
        else
            cdc_buf_puts(out, "null");
        cdc_buf_putc(out, '}');
        return;
    }
    char op[2] = {ev->op, 0};
    cdc_buf_puts(out, "{\"op\":");
    dfmt_json_str(out, op, strlen(op));
    cdc_buf_puts(out, ",\"before\":");
    if (ev->has_before)
        event_row(&ev->before, out);
    else
        cdc_buf_puts(out, "null");
    cdc_buf_puts(out, ",\"after\":");
    if (ev->has_after)
        event_row(&ev->after, out);
    else
        cdc_buf_puts(out, "null");
    cdc_buf_putc(out, '}');
}
