/* Secrets out of logs, error strings and --dump-config (see redact.h).
 *
 * libpq's own parser (PQconninfoParse) is not used to redact: it rejects
 * URIs of other schemes (registry and Pushgateway URLs share this code),
 * and a string it cannot parse must still be redacted, not printed as is.
 * The walkers below follow libpq's lexical rules instead: key = value pairs
 * separated by white space, values either 'quoted' or bare, a backslash
 * escaping the next character in both. */
#include "cdc/redact.h"
#include "cdc/util.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keywords libpq marks as passwords, read once from PQconndefaults(). */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char **g_pqkeys;
static size_t g_npqkeys;

/* Registered secret values, longest first so that a secret containing
 * another is replaced whole. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char **g_secrets;
static size_t g_nsecrets;

#define MIN_SECRET 4

static void add_secret_n(const char *v, size_t n)
{
    if (!v || n < MIN_SECRET || !strncmp(v, CDC_REDACTED, n))
        return;
    pthread_mutex_lock(&g_mu);
    size_t at = g_nsecrets;
    for (size_t i = 0; i < g_nsecrets; i++) {
        size_t len = strlen(g_secrets[i]);
        if (len == n && !memcmp(g_secrets[i], v, n)) {
            pthread_mutex_unlock(&g_mu);
            return;
        }
        if (len < n && at == g_nsecrets)
            at = i;
    }
    char *copy = strndup(v, n);
    if (!copy)
        abort();
    g_secrets = cdc_xrealloc(g_secrets, (g_nsecrets + 1) * sizeof(*g_secrets));
    memmove(g_secrets + at + 1, g_secrets + at, (g_nsecrets - at) * sizeof(*g_secrets));
    g_secrets[at] = copy;
    g_nsecrets++;
    pthread_mutex_unlock(&g_mu);
}

static void add_pqkey(const char *k)
{
    g_pqkeys = cdc_xrealloc(g_pqkeys, (g_npqkeys + 1) * sizeof(*g_pqkeys));
    g_pqkeys[g_npqkeys] = strdup(k);
    if (!g_pqkeys[g_npqkeys])
        abort();
    g_npqkeys++;
}

static void init_once(void)
{
    PQconninfoOption *opts = PQconndefaults();
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->dispchar || o->dispchar[0] != '*')
            continue;
        add_pqkey(o->keyword);
        /* PGPASSWORD and friends: libpq uses them without printing them,
         * but a message quoting one must not show it either. */
        const char *env = o->envvar ? getenv(o->envvar) : NULL;
        if (env)
            add_secret_n(env, strlen(env));
    }
    if (!opts) {
        /* Out of memory in libpq: fall back to the ones libpq 15 marks. */
        add_pqkey("password");
        add_pqkey("sslpassword");
    }
    PQconninfoFree(opts);
}

static bool contains_ci(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (!strncasecmp(s + i, word, w))
            return true;
    return false;
}

bool cdc_redact_is_secret_key(const char *key, size_t len)
{
    pthread_once(&g_once, init_once);
    for (size_t i = 0; i < g_npqkeys; i++)
        if (strlen(g_pqkeys[i]) == len && !strncasecmp(g_pqkeys[i], key, len))
            return true;
    return contains_ci(key, len, "password") || contains_ci(key, len, "secret");
}

void cdc_redact_add_secret(const char *value)
{
    pthread_once(&g_once, init_once);
    if (value)
        add_secret_n(value, strlen(value));
}

/* ------------------------------------------------------------- helpers */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into out (reset first). */
static void pct_decode(const char *s, size_t n, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            cdc_buf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            cdc_buf_putc(out, s[i]);
        }
    }
    if (!out->data)
        cdc_buf_puts(out, "");
}

static bool is_secret_pct(const char *k, size_t n)
{
    cdc_buf_t d = CDC_BUF_INIT;
    pct_decode(k, n, &d);
    bool s = cdc_redact_is_secret_key(d.data, d.len);
    cdc_buf_free(&d);
    return s;
}

/* Register a secret seen raw (s[0..n)) and percent-decoded. */
static void collect_pct(const char *s, size_t n)
{
    cdc_buf_t d = CDC_BUF_INIT;
    add_secret_n(s, n);
    pct_decode(s, n, &d);
    add_secret_n(d.data, d.len);
    cdc_buf_free(&d);
}

static const char *uri_scheme_end(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (!isalpha((unsigned char)*s))
        return NULL;
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return strncmp(p, "://", 3) ? NULL : p + 3;
}

/* ------------------------------------------------------------- the URI */

/* Redact (out != NULL) or collect the secrets of a URI whose authority
 * starts at @p auth (just after "://"). */
static void walk_uri(const char *ci, const char *auth, cdc_buf_t *out, bool collect)
{
    const char *end_auth = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end_auth; p++)
        if (*p == '@')
            at = p; /* the last one: a stray '@' must not leak the rest */
    const char *p = ci;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            if (out) {
                cdc_buf_append(out, p, (size_t)(colon + 1 - p));
                cdc_buf_puts(out, CDC_REDACTED);
            }
            if (collect)
                collect_pct(colon + 1, (size_t)(at - colon - 1));
            p = at;
        }
    }
    const char *q = strchr(end_auth, '?');
    if (!q) {
        if (out)
            cdc_buf_puts(out, p);
        return;
    }
    q++;
    if (out)
        cdc_buf_append(out, p, (size_t)(q - p));
    /* Query parameters are conninfo keywords (libpq) or anything else;
     * the key may be percent-encoded (ssl%70assword). */
    while (*q && *q != '#') {
        size_t n = strcspn(q, "&#");
        const char *eq = memchr(q, '=', n);
        if (eq && is_secret_pct(q, (size_t)(eq - q))) {
            if (out) {
                cdc_buf_append(out, q, (size_t)(eq + 1 - q));
                cdc_buf_puts(out, CDC_REDACTED);
            }
            if (collect)
                collect_pct(eq + 1, (size_t)(q + n - eq - 1));
        } else if (out) {
            cdc_buf_append(out, q, n);
        }
        q += n;
        if (*q == '&') {
            if (out)
                cdc_buf_putc(out, '&');
            q++;
        }
    }
    if (out)
        cdc_buf_puts(out, q);
}

/* ---------------------------------------------------- key=value conninfo */

static void walk_conninfo(const char *ci, cdc_buf_t *out, bool collect);

/* One value starting at @p v: its end and (unescaped) content. */
static const char *scan_value(const char *v, cdc_buf_t *content)
{
    cdc_buf_reset(content);
    if (*v == '\'') {
        v++;
        while (*v && *v != '\'') {
            if (*v == '\\' && v[1])
                v++;
            cdc_buf_putc(content, *v++);
        }
        return *v ? v + 1 : v;
    }
    while (*v && !isspace((unsigned char)*v)) {
        if (*v == '\\' && v[1])
            v++;
        cdc_buf_putc(content, *v++);
    }
    return v;
}

static void walk_conninfo(const char *ci, cdc_buf_t *out, bool collect)
{
    const char *auth = uri_scheme_end(ci);
    if (auth) {
        walk_uri(ci, auth, out, collect);
        return;
    }
    cdc_buf_t val = CDC_BUF_INIT;
    const char *p = ci;
    while (*p) {
        const char *s = p;
        while (isspace((unsigned char)*p))
            p++;
        const char *k = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') {
            /* Not key=value (libpq would refuse it): keep what is left,
             * still passed through the free-text rules. */
            if (out)
                cdc_redact_text(s, out);
            break;
        }
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *v = p;
        p = scan_value(v, &val);
        if (out)
            cdc_buf_append(out, s, (size_t)(v - s));
        if (cdc_redact_is_secret_key(k, klen)) {
            if (out)
                cdc_buf_puts(out, CDC_REDACTED);
            if (collect) {
                add_secret_n(v, (size_t)(p - v));
                add_secret_n(val.data, val.len);
            }
        } else if (klen == 6 && !strncmp(k, "dbname", 6) && val.data &&
                   (strchr(val.data, '=') || strstr(val.data, "://"))) {
            /* dbname may itself be a conninfo or URI (expand_dbname). */
            cdc_buf_t inner = CDC_BUF_INIT;
            walk_conninfo(val.data, &inner, collect);
            if (out && inner.data && strcmp(inner.data, val.data)) {
                cdc_buf_putc(out, '\'');
                for (const char *c = inner.data; *c; c++) {
                    if (*c == '\'' || *c == '\\')
                        cdc_buf_putc(out, '\\');
                    cdc_buf_putc(out, *c);
                }
                cdc_buf_putc(out, '\'');
            } else if (out) {
                cdc_buf_append(out, v, (size_t)(p - v));
            }
            cdc_buf_free(&inner);
        } else if (out) {
            cdc_buf_append(out, v, (size_t)(p - v));
        }
    }
    cdc_buf_free(&val);
}

void cdc_redact_conninfo(const char *ci, char *out, size_t out_size)
{
    cdc_buf_t b = CDC_BUF_INIT;
    walk_conninfo(ci ? ci : "", &b, false);
    snprintf(out, out_size, "%s", b.data ? b.data : "");
    cdc_buf_free(&b);
}

void cdc_redact_add_conninfo_secrets(const char *ci)
{
    if (ci)
        walk_conninfo(ci, NULL, true);
}

/* ------------------------------------------------------------ free text */

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '%';
}

/* Structural pass over a message: scheme://user:pw@ and secret=value. */
static void redact_patterns(const char *text, cdc_buf_t *out)
{
    const char *p = text, *done = text;
    while (*p) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/' && p > text &&
            isalnum((unsigned char)p[-1])) {
            const char *auth = p + 3;
            const char *end = auth + strcspn(auth, "/?# \t\r\n\"'<>");
            const char *at = NULL;
            for (const char *c = auth; c < end; c++)
                if (*c == '@')
                    at = c;
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                cdc_buf_append(out, done, (size_t)(colon + 1 - done));
                cdc_buf_puts(out, CDC_REDACTED);
                done = at;
            }
            p = end;
            continue;
        }
        if (*p == '=' && p > text) {
            const char *ke = p;
            while (ke > text && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
            const char *k = ke;
            while (k > text && key_char(k[-1]))
                k--;
            const char *v = p + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (k < ke && cdc_redact_is_secret_key(k, (size_t)(ke - k)) &&
                strncmp(v, CDC_REDACTED, strlen(CDC_REDACTED)) != 0) {
                const char *e;
                if (*v == '\'' || *v == '"') {
                    char qc = *v;
                    e = v + 1;
                    while (*e && *e != qc) {
                        if (*e == '\\' && e[1])
                            e++;
                        e++;
                    }
                    v++; /* keep the quotes, hide what is between */
                } else {
                    e = v + strcspn(v, " \t\r\n'\"&,;)]}");
                }
                cdc_buf_append(out, done, (size_t)(v - done));
                cdc_buf_puts(out, CDC_REDACTED);
                done = p = e;
                continue;
            }
        }
        p++;
    }
    cdc_buf_puts(out, done);
}

void cdc_redact_text(const char *text, cdc_buf_t *out)
{
    cdc_buf_t tmp = CDC_BUF_INIT;
    pthread_once(&g_once, init_once);
    redact_patterns(text ? text : "", &tmp);
    const char *s = tmp.data ? tmp.data : "";
    pthread_mutex_lock(&g_mu);
    if (!g_nsecrets) {
        pthread_mutex_unlock(&g_mu);
        cdc_buf_puts(out, s);
        cdc_buf_free(&tmp);
        return;
    }
    /* Longest first; each pass works on the previous one's result. */
    cdc_buf_t a = CDC_BUF_INIT;
    cdc_buf_puts(&a, s);
    for (size_t i = 0; i < g_nsecrets; i++) {
        const char *sec = g_secrets[i];
        const char *hit = strstr(a.data, sec);
        if (!hit)
            continue;
        size_t n = strlen(sec);
        cdc_buf_t b = CDC_BUF_INIT;
        const char *q = a.data;
        for (; hit; hit = strstr(q, sec)) {
            cdc_buf_append(&b, q, (size_t)(hit - q));
            cdc_buf_puts(&b, CDC_REDACTED);
            q = hit + n;
        }
        cdc_buf_puts(&b, q);
        cdc_buf_free(&a);
        a = b;
    }
    pthread_mutex_unlock(&g_mu);
    cdc_buf_puts(out, a.data);
    cdc_buf_free(&a);
    cdc_buf_free(&tmp);
}

void cdc_redact_errstr(char *errstr, size_t errstr_size)
{
    if (!errstr || !errstr_size)
        return;
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_redact_text(errstr, &b);
    snprintf(errstr, errstr_size, "%s", b.data ? b.data : "");
    cdc_buf_free(&b);
}

char *cdc_redact_strdup(const char *text)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_redact_text(text, &b);
    if (!b.data)
        cdc_buf_puts(&b, "");
    return cdc_buf_steal(&b);
}
