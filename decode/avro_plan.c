/* The Avro decoder's plan of one record schema (daplan_t): what avro.c
 * would otherwise work out from the schema tree for every datum. Built by
 * avro_schema.c once the whole tree is compiled. */
#include "decode_int.h"

#include <stdlib.h>
#include <string.h>

/* Offset of @p str in the pack. Semantic and type strings repeat across
 * columns: @p seen (NULL for names, unique in a record) lists the offsets
 * of those already in it. */
static size_t pack_add(cdc_buf_t *pk, size_t *seen, size_t *nseen, const char *str)
{
    if (!str)
        return DOFF_NONE;
    for (size_t i = 0; seen && i < *nseen; i++)
        if (strcmp(pk->data + seen[i], str) == 0)
            return seen[i];
    size_t off = pk->len;
    cdc_buf_append(pk, str, strlen(str) + 1);
    if (seen)
        seen[(*nseen)++] = off;
    return off;
}

static darole_t field_role(const char *name)
{
    static const struct {
        const char *name;
        darole_t role;
    } roles[] = {{"before", DR_BEFORE},           {"after", DR_AFTER}, {"source", DR_SOURCE},
                 {"transaction", DR_TRANSACTION}, {"op", DR_OP},       {"ts_ms", DR_TS_MS}};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].role;
    return DR_OTHER;
}

void da_plan_record(darena_t *a, dsch_t *s)
{
    daplan_t *pl = darena_alloc(a, sizeof(*pl));
    pl->f = darena_alloc(a, (s->nfields ? s->nfields : 1) * sizeof(dafield_t));
    size_t *seen = malloc((2 * s->nfields + 1) * sizeof(size_t));
    if (!seen)
        abort();
    size_t nseen = 0;
    cdc_buf_t pk = CDC_BUF_INIT;
    for (size_t i = 0; i < s->nfields; i++) {
        const dfield_t *fd = &s->fields[i];
        dafield_t *f = &pl->f[i];
        const dsch_t *u = dsch_unwrap(fd->sch);
        f->u = u;
        /* What dcol_add() would give the column. */
        f->name = pack_add(&pk, NULL, NULL, fd->name);
        f->sem = pack_add(&pk, seen, &nseen, u->semantic);
        f->pg = pack_add(&pk, seen, &nseen, u->pg_type);
        f->optional = fd->sch->optional || u != fd->sch;
        /* dph_match() is false for these types whatever the text. */
        switch (u->type) {
        case DT_NULL:
        case DT_BOOL:
        case DT_INT8:
        case DT_INT16:
        case DT_INT32:
        case DT_INT64:
        case DT_FLOAT32:
        case DT_FLOAT64:
        case DT_STRUCT:
        case DT_UNION: f->ph = false; break;
        default: f->ph = true; break;
        }
        f->ph_text = u->type == DT_STRING || u->type == DT_ENUM;
        f->meta = dflat_is_meta(fd->name);
        f->role = field_role(fd->name);
        pl->shape |= dclass_field(fd->name, strlen(fd->name));
    }
    char *pack = darena_alloc(a, pk.len + 1);
    if (pk.len)
        memcpy(pack, pk.data, pk.len);
    pl->pack = pack;
    pl->pack_len = pk.len;
    cdc_buf_free(&pk);
    free(seen);
    s->aplan = pl;
}
