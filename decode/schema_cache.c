/* The schema cache: compiled JSON schemas keyed by a hash of their exact
 * text, compiled Avro schemas keyed by registry id, and the registry client
 * that fills the latter. The decoder asks here for a record's schema before
 * it hands the bytes to a front end; nothing else fetches or compiles. */
#include "decode_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct jent {
    uint64_t hash;
    char *bytes; /* the exact schema text, compared on a hit */
    size_t len;
    dsch_t *root;
    darena_t arena;
} jent_t;

typedef struct aent {
    int64_t id;
    bool used;
    dsch_t *root;
    darena_t arena;
} aent_t;

/* Distinct schemas are few (one per table and version); the bound only
 * stops a hostile stream from growing memory without limit. */
#define JCACHE_MAX 4096

#define JMRU_N 8
typedef struct jmru {
    const char *bytes;
    size_t len;
    const dsch_t *root;
} jmru_t;

struct dcache {
    dreg_t *reg; /* NULL: no registry configured */
    jent_t *jc;
    size_t jc_cap, jc_n;
    aent_t *ac;
    size_t ac_cap, ac_n;
    jmru_t mru[JMRU_N];
};

dcache_t *dcache_new(const char *registry_url, int timeout_ms, int retries)
{
    dcache_t *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    if (registry_url && registry_url[0]) {
        sc->reg = dreg_new(registry_url, timeout_ms, retries);
        if (!sc->reg) {
            free(sc);
            return NULL;
        }
    }
    return sc;
}

static void jc_free_all(dcache_t *sc)
{
    for (size_t i = 0; i < sc->jc_cap; i++) {
        if (sc->jc[i].bytes) {
            free(sc->jc[i].bytes);
            darena_free(&sc->jc[i].arena);
        }
    }
}

void dcache_destroy(dcache_t *sc)
{
    if (!sc)
        return;
    jc_free_all(sc);
    free(sc->jc);
    for (size_t i = 0; i < sc->ac_cap; i++)
        if (sc->ac[i].used)
            darena_free(&sc->ac[i].arena);
    free(sc->ac);
    dreg_destroy(sc->reg);
    free(sc);
}

const dsch_t *dcache_json_mru(const dcache_t *sc, size_t i, const char **bytes, size_t *len)
{
    if (i >= JMRU_N || !sc->mru[i].root)
        return NULL;
    *bytes = sc->mru[i].bytes;
    *len = sc->mru[i].len;
    return sc->mru[i].root;
}

static void mru_touch(dcache_t *sc, const char *bytes, size_t len, const dsch_t *root)
{
    size_t i = 0;
    while (i < JMRU_N - 1 && sc->mru[i].root && sc->mru[i].root != root)
        i++;
    memmove(&sc->mru[1], &sc->mru[0], i * sizeof(jmru_t));
    sc->mru[0].bytes = bytes;
    sc->mru[0].len = len;
    sc->mru[0].root = root;
}

/* ---- JSON schema cache, keyed by xxh3 of the schema's exact text ---- */

static void jc_clear(dcache_t *sc)
{
    jc_free_all(sc);
    memset(sc->jc, 0, sc->jc_cap * sizeof(jent_t));
    sc->jc_n = 0;
    /* The freed schemas may be reused at the same addresses. */
    memset(sc->mru, 0, sizeof(sc->mru));
}

static void jc_insert(dcache_t *sc, jent_t *e)
{
    if ((sc->jc_n + 1) * 2 > sc->jc_cap) {
        size_t ncap = sc->jc_cap ? sc->jc_cap * 2 : 64;
        jent_t *nt = calloc(ncap, sizeof(jent_t));
        if (!nt)
            abort();
        for (size_t i = 0; i < sc->jc_cap; i++) {
            if (!sc->jc[i].bytes)
                continue;
            size_t j = sc->jc[i].hash & (ncap - 1);
            while (nt[j].bytes)
                j = (j + 1) & (ncap - 1);
            nt[j] = sc->jc[i];
        }
        free(sc->jc);
        sc->jc = nt;
        sc->jc_cap = ncap;
    }
    size_t j = e->hash & (sc->jc_cap - 1);
    while (sc->jc[j].bytes)
        j = (j + 1) & (sc->jc_cap - 1);
    sc->jc[j] = *e;
    sc->jc_n++;
}

const dsch_t *dcache_json(dcache_t *sc, const char *p, size_t n, bool *flushed, char *err,
                          size_t errsz)
{
    *flushed = false;
    uint64_t h = XXH3_64bits(p, n);
    if (sc->jc_cap) {
        size_t j = h & (sc->jc_cap - 1);
        while (sc->jc[j].bytes) {
            if (sc->jc[j].hash == h && sc->jc[j].len == n && memcmp(sc->jc[j].bytes, p, n) == 0) {
                mru_touch(sc, sc->jc[j].bytes, n, sc->jc[j].root);
                return sc->jc[j].root;
            }
            j = (j + 1) & (sc->jc_cap - 1);
        }
    }
    json_error_t jerr;
    json_t *js = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
    if (!js) {
        snprintf(err, errsz, "expected a JSON schema, found invalid JSON (%s at byte %d)",
                 jerr.text, jerr.position);
        return NULL;
    }
    jent_t e;
    memset(&e, 0, sizeof(e));
    e.root = dj_compile_schema(&e.arena, js, err, errsz);
    json_decref(js);
    if (!e.root) {
        darena_free(&e.arena);
        return NULL;
    }
    if (sc->jc_n >= JCACHE_MAX) {
        jc_clear(sc);
        *flushed = true;
    }
    e.hash = h;
    e.len = n;
    e.bytes = malloc(n ? n : 1);
    if (!e.bytes)
        abort();
    memcpy(e.bytes, p, n);
    jc_insert(sc, &e);
    mru_touch(sc, e.bytes, n, e.root);
    return e.root;
}

/* ---- Avro schema cache by registry id (ids are immutable: forever) ---- */

static aent_t *ac_find(dcache_t *sc, int64_t id)
{
    if (!sc->ac_cap)
        return NULL;
    size_t j = (size_t)XXH3_64bits(&id, sizeof(id)) & (sc->ac_cap - 1);
    while (sc->ac[j].used) {
        if (sc->ac[j].id == id)
            return &sc->ac[j];
        j = (j + 1) & (sc->ac_cap - 1);
    }
    return NULL;
}

static void ac_insert(dcache_t *sc, aent_t *e)
{
    if ((sc->ac_n + 1) * 2 > sc->ac_cap) {
        size_t ncap = sc->ac_cap ? sc->ac_cap * 2 : 32;
        aent_t *nt = calloc(ncap, sizeof(aent_t));
        if (!nt)
            abort();
        for (size_t i = 0; i < sc->ac_cap; i++) {
            if (!sc->ac[i].used)
                continue;
            size_t j = (size_t)XXH3_64bits(&sc->ac[i].id, sizeof(int64_t)) & (ncap - 1);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = sc->ac[i];
        }
        free(sc->ac);
        sc->ac = nt;
        sc->ac_cap = ncap;
    }
    size_t j = (size_t)XXH3_64bits(&e->id, sizeof(int64_t)) & (sc->ac_cap - 1);
    while (sc->ac[j].used)
        j = (j + 1) & (sc->ac_cap - 1);
    sc->ac[j] = *e;
    sc->ac[j].used = true;
    sc->ac_n++;
}

int dcache_avro_add(dcache_t *sc, int64_t id, const char *text, size_t len, char *err, size_t errsz)
{
    if (ac_find(sc, id))
        return 0;
    aent_t e;
    memset(&e, 0, sizeof(e));
    e.root = da_compile_schema(&e.arena, text, len, err, errsz);
    if (!e.root) {
        darena_free(&e.arena);
        return -1;
    }
    e.id = id;
    ac_insert(sc, &e);
    return 0;
}

const dsch_t *dcache_avro(dcache_t *sc, int64_t id, cdc_err_class_t *cls, char *err, size_t errsz)
{
    aent_t *e = ac_find(sc, id);
    if (e)
        return e->root;
    if (!sc->reg) {
        *cls = CDC_ERR_FATAL;
        snprintf(err, errsz,
                 "schema id %lld is not known and no schema registry is configured: use "
                 "--schema-registry URL",
                 (long long)id);
        return NULL;
    }
    char *text = NULL;
    *cls = CDC_ERR_NONE;
    if (dreg_fetch(sc->reg, id, &text, cls, err, errsz) != 0)
        return NULL;
    char cerr[256] = "";
    if (dcache_avro_add(sc, id, text, strlen(text), cerr, sizeof(cerr)) != 0) {
        free(text);
        *cls = CDC_ERR_POISON;
        snprintf(err, errsz, "registry returned an unusable schema: schema id %lld: %s",
                 (long long)id, cerr);
        return NULL;
    }
    free(text);
    e = ac_find(sc, id);
    return e ? e->root : NULL;
}
