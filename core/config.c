/* Configuration table: parsing of argv and -c files, validation, --help,
 * --dump-config. Every option a program has is one row of its table plus
 * the common rows below, so the help text, the file keys, the validation
 * and the redacted dump can never disagree. */
#include "cdc/config.h"

#include "cdc_config.h"
#include "cdc/buf.h"
#include "cdc/redact.h"
#include "cdc/util.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Rows every program has. "config" is handled while parsing (a file read
 * where it appears), "X" collects librdkafka properties. */
static const cdc_opt_def_t common_defs[] = {
    {"config", 'c', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "FILE",
     "read key=value options from FILE (same keys as the long options)"},
    {"X", 'X', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "KEY=VALUE",
     "set a librdkafka property (e.g. -X security.protocol=ssl)"},
    {"log-level", 0, CDC_OPT_ENUM, "info", 0, -1, "error|warn|info|debug", 0, "LEVEL",
     "log verbosity (logs go to stderr; secrets are redacted)"},
    {"log-format", 0, CDC_OPT_ENUM, "text", 0, -1, "text|json", 0, "FORMAT",
     "log line format: human text or JSON lines"},
    {"dump-config", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "print the effective configuration (secrets redacted) and exit"},
    {"help", 'h', CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL, "show this help and exit"},
    {"version", 'V', CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL, "show the version and exit"},
    {"help-markdown", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, CDC_OPT_HIDDEN, NULL,
     "print README's tables of this program (options, metrics) and exit"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

typedef struct opt_val {
    const cdc_opt_def_t *def;
    char **vals; /* every value given, in order (defaults not included) */
    size_t nvals;
} opt_val_t;

struct cdc_config_s {
    const char *prog;
    const char *summary;
    opt_val_t *opts;
    size_t nopts;
    char **xkeys, **xvals; /* -X pairs */
    size_t nx;
    char **args; /* positional arguments */
    size_t nargs;
    const char *args_metavar;         /* NULL: the program takes no operands */
    void (*markdown_hook)(FILE *out); /* more --help-markdown output, or NULL */
    int file_depth;                   /* guards against a config file including itself */
};

static bool has_key(const cdc_opt_def_t *defs, const char *key)
{
    for (const cdc_opt_def_t *d = defs; d && d->key; d++)
        if (!strcmp(d->key, key))
            return true;
    return false;
}

static void add_defs(cdc_config_t *cfg, const cdc_opt_def_t *defs, bool kafka)
{
    for (const cdc_opt_def_t *d = defs; d && d->key; d++) {
        if (!kafka && !strcmp(d->key, "X"))
            continue;
        cfg->opts = cdc_xrealloc(cfg->opts, (cfg->nopts + 1) * sizeof(*cfg->opts));
        cfg->opts[cfg->nopts++] = (opt_val_t){d, NULL, 0};
    }
}

cdc_config_t *cdc_config_new(const char *prog, const char *summary, const cdc_opt_def_t *defs)
{
    cdc_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        abort();
    cfg->prog = prog;
    cfg->summary = summary;
    add_defs(cfg, defs, true);
    /* -X only means something to programs that talk to Kafka. */
    add_defs(cfg, common_defs, has_key(defs, "brokers"));
    return cfg;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void cdc_config_destroy(cdc_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nopts; i++)
        free_strv(cfg->opts[i].vals, cfg->opts[i].nvals);
    free(cfg->opts);
    free_strv(cfg->xkeys, cfg->nx);
    free_strv(cfg->xvals, cfg->nx);
    free_strv(cfg->args, cfg->nargs);
    free(cfg);
}

static opt_val_t *find_long(const cdc_config_t *cfg, const char *key, size_t keylen)
{
    for (size_t i = 0; i < cfg->nopts; i++) {
        const char *k = cfg->opts[i].def->key;
        if (strlen(k) == keylen && strncmp(k, key, keylen) == 0)
            return &cfg->opts[i];
    }
    /* Config files may spell keys with underscores (batch_rows). */
    for (size_t i = 0; i < cfg->nopts; i++) {
        const char *k = cfg->opts[i].def->key;
        if (strlen(k) != keylen)
            continue;
        size_t j = 0;
        for (; j < keylen; j++) {
            char a = k[j], b = key[j];
            if (a != b && !(a == '-' && b == '_'))
                break;
        }
        if (j == keylen)
            return &cfg->opts[i];
    }
    return NULL;
}

static opt_val_t *find_short(const cdc_config_t *cfg, char c)
{
    for (size_t i = 0; i < cfg->nopts; i++)
        if (cfg->opts[i].def->short_opt == c)
            return &cfg->opts[i];
    return NULL;
}

static opt_val_t *must_find(const cdc_config_t *cfg, const char *key)
{
    opt_val_t *o = find_long(cfg, key, strlen(key));
    if (!o) {
        /* Asking for a key the table does not have is a programming bug:
         * fail at once rather than silently returning a default. */
        fprintf(stderr, "%s: internal error: option '%s' is not in the table\n", cfg->prog, key);
        abort();
    }
    return o;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == vl && strncmp(p, v, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* Check one value against its row; errstr names the option and the fix. */
static int validate(const cdc_config_t *cfg, const cdc_opt_def_t *d, const char *v, char *errstr,
                    size_t errstr_size)
{
    char *end = NULL;
    switch (d->type) {
    case CDC_OPT_STRING: return 0;
    case CDC_OPT_BOOL: {
        bool b;
        if (parse_bool(v, &b) == 0)
            return 0;
        snprintf(errstr, errstr_size, "--%s: '%s' is not a boolean: use true or false", d->key, v);
        return -1;
    }
    case CDC_OPT_ENUM:
        if (choice_ok(d->choices, v))
            return 0;
        snprintf(errstr, errstr_size, "--%s: '%s' is not one of %s", d->key, v, d->choices);
        return -1;
    case CDC_OPT_INT: {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            if (d->min <= d->max)
                snprintf(errstr, errstr_size, "--%s: '%s' is not a whole number: use %.0f to %.0f",
                         d->key, v, d->min, d->max);
            else
                snprintf(errstr, errstr_size, "--%s: '%s' is not a whole number", d->key, v);
            return -1;
        }
        if (d->min <= d->max && ((double)n < d->min || (double)n > d->max)) {
            snprintf(errstr, errstr_size, "--%s: %lld is out of range: use %.0f to %.0f", d->key, n,
                     d->min, d->max);
            return -1;
        }
        return 0;
    }
    case CDC_OPT_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || isnan(x)) {
            if (d->min <= d->max)
                snprintf(errstr, errstr_size, "--%s: '%s' is not a number: use %g to %g", d->key, v,
                         d->min, d->max);
            else
                snprintf(errstr, errstr_size, "--%s: '%s' is not a number", d->key, v);
            return -1;
        }
        if (d->min <= d->max && (x < d->min || x > d->max)) {
            snprintf(errstr, errstr_size, "--%s: %g is out of range: use %g to %g", d->key, x,
                     d->min, d->max);
            return -1;
        }
        return 0;
    }
    }
    (void)cfg;
    return 0;
}

static bool rdkafka_secret(const char *key);

static int add_x(cdc_config_t *cfg, const char *kv, char *errstr, size_t errstr_size)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(errstr, errstr_size, "-X '%s': expected KEY=VALUE (a librdkafka property)", kv);
        return -1;
    }
    cfg->xkeys = cdc_xrealloc(cfg->xkeys, (cfg->nx + 1) * sizeof(char *));
    cfg->xvals = cdc_xrealloc(cfg->xvals, (cfg->nx + 1) * sizeof(char *));
    cfg->xkeys[cfg->nx] = strndup(kv, (size_t)(eq - kv));
    cfg->xvals[cfg->nx] = cdc_xstrdup(eq + 1);
    if (!cfg->xkeys[cfg->nx])
        abort();
    /* From now on the value is hidden wherever a message quotes it. */
    if (rdkafka_secret(cfg->xkeys[cfg->nx]))
        cdc_redact_add_secret(cfg->xvals[cfg->nx]);
    cfg->nx++;
    return 0;
}

static int read_file(cdc_config_t *cfg, const char *path, char *errstr, size_t errstr_size);

static int set_value(cdc_config_t *cfg, opt_val_t *o, const char *v, char *errstr,
                     size_t errstr_size)
{
    if (!strcmp(o->def->key, "X"))
        return add_x(cfg, v, errstr, errstr_size);
    if (!strcmp(o->def->key, "config"))
        return read_file(cfg, v, errstr, errstr_size);
    if (validate(cfg, o->def, v, errstr, errstr_size) != 0)
        return -1;
    /* Register secrets before anything can log them. */
    if (o->def->flags & CDC_OPT_CONNINFO)
        cdc_redact_add_conninfo_secrets(v);
    else if (o->def->flags & CDC_OPT_SENSITIVE)
        cdc_redact_add_secret(v);
    if (!(o->def->flags & CDC_OPT_MULTI)) {
        /* A single-valued option keeps only its last value: flags after
         * -c override the file, as users expect. */
        free_strv(o->vals, o->nvals);
        o->vals = NULL;
        o->nvals = 0;
    }
    o->vals = cdc_xrealloc(o->vals, (o->nvals + 1) * sizeof(char *));
    o->vals[o->nvals++] = cdc_xstrdup(v);
    return 0;
}

int cdc_config_set(cdc_config_t *cfg, const char *key, const char *value, char *errstr,
                   size_t errstr_size)
{
    opt_val_t *o = find_long(cfg, key, strlen(key));
    if (!o) {
        snprintf(errstr, errstr_size, "unknown option '%s': see --help", key);
        return -1;
    }
    return set_value(cfg, o, value, errstr, errstr_size);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* A line without '=' is never quoted back: "sasl.password hunter2" (or a
 * line holding only a password) would show the secret. Name the key when
 * the line has one ("key value", "key: value"), else only the line. */
static void no_equals(const char *path, int lineno, const char *s, char *errstr, size_t errstr_size)
{
    size_t n = strcspn(s, " \t:");
    if (n && s[n] && n < 100)
        snprintf(errstr, errstr_size, "%s:%d: key '%.*s' has no '=': write %.*s=VALUE%s", path,
                 lineno, (int)n, s, (int)n, s,
                 memchr(s, '.', n) && strncmp(s, "X.", 2) && strncmp(s, "kafka.", 6)
                     ? " (a librdkafka property: X.<property>=VALUE)"
                     : "");
    else
        snprintf(errstr, errstr_size,
                 "%s:%d: expected key=value (the line is not shown: it may hold a secret)", path,
                 lineno);
}

/* key=value lines; '#' starts a comment line; values may be "quoted".
 * A key "X.<prop>" or "kafka.<prop>" is a librdkafka property. */
static int read_file(cdc_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = -1;
    char sub[512];

    if (cfg->file_depth > 4) {
        snprintf(errstr, errstr_size, "%s: config files nest too deep (a file includes itself?)",
                 path);
        return -1;
    }
    f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    cfg->file_depth++;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            no_equals(path, lineno, s, errstr, errstr_size);
            goto out;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 &&
            ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
            val[vl - 1] = '\0';
            val++;
        }
        if (!strncmp(key, "X.", 2) || !strncmp(key, "kafka.", 6)) {
            const char *prop = key + (key[0] == 'X' ? 2 : 6);
            cdc_buf_t kv = CDC_BUF_INIT;
            cdc_buf_printf(&kv, "%s=%s", prop, val);
            int r = add_x(cfg, kv.data, errstr, errstr_size);
            cdc_buf_free(&kv);
            if (r)
                goto out;
            continue;
        }
        opt_val_t *o = find_long(cfg, key, strlen(key));
        if (!o || !strcmp(o->def->key, "help") || !strcmp(o->def->key, "version") ||
            !strcmp(o->def->key, "dump-config")) {
            snprintf(errstr, errstr_size, "%s:%d: unknown key '%s': see --help for the keys", path,
                     lineno, key);
            goto out;
        }
        if (set_value(cfg, o, val, sub, sizeof(sub)) != 0) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, sub);
            goto out;
        }
    }
    rc = 0;
out:
    cfg->file_depth--;
    free(line);
    fclose(f);
    return rc;
}

static const char *version_line(void)
{
    static char v[128];
    snprintf(v, sizeof(v), "%s (librdkafka %s)", CDC_VERSION, rd_kafka_version_str());
    return v;
}

void cdc_config_allow_args(cdc_config_t *cfg, const char *metavar)
{
    cfg->args_metavar = metavar;
}

/* A word that is not an option's value in a program without operands:
 * almost always a second value given to the option before it ("--table a
 * b") or a value given to a flag ("--store false"). Say which. */
static void stray_operand(const cdc_config_t *cfg, const char *a, const opt_val_t *prev,
                          const char *prev_val, bool prev_flag, char *errstr, size_t errstr_size)
{
    bool b;
    if (prev && prev_flag && parse_bool(a, &b) == 0)
        snprintf(errstr, errstr_size,
                 "unexpected argument '%s': --%s is a flag and takes no separate value (write "
                 "--%s=%s)",
                 a, prev->def->key, prev->def->key, a);
    else if (prev && !prev_flag && (prev->def->flags & CDC_OPT_MULTI))
        snprintf(errstr, errstr_size,
                 "unexpected argument '%s' after --%s %s: --%s takes one value; repeat it "
                 "(--%s %s --%s %s)",
                 a, prev->def->key, prev_val, prev->def->key, prev->def->key, prev_val,
                 prev->def->key, a);
    else if (prev && !prev_flag)
        snprintf(errstr, errstr_size,
                 "unexpected argument '%s' after --%s %s: --%s takes one value %s (quote it if "
                 "it contains spaces)",
                 a, prev->def->key, prev_val, prev->def->key,
                 prev->def->type == CDC_OPT_ENUM
                     ? prev->def->choices
                     : (prev->def->metavar ? prev->def->metavar : "VALUE"));
    else
        snprintf(errstr, errstr_size,
                 "unexpected argument '%s': %s takes no operands, only options (see %s --help)", a,
                 cfg->prog, cfg->prog);
}

/* True when @p a is spelled like one of our long options ("--source",
 * "--where=x"): then it is not meant as the previous option's value. */
static bool looks_like_option(const cdc_config_t *cfg, const char *a)
{
    if (a[0] != '-' || a[1] != '-' || !a[2])
        return false;
    const char *eq = strchr(a + 2, '=');
    return find_long(cfg, a + 2, eq ? (size_t)(eq - (a + 2)) : strlen(a + 2)) != NULL;
}

cdc_config_status_t cdc_config_parse(cdc_config_t *cfg, int argc, char **argv, FILE *out,
                                     char *errstr, size_t errstr_size)
{
    bool only_args = false;
    /* The option before the current word, for the stray-operand hint. */
    const opt_val_t *prev = NULL;
    const char *prev_val = NULL;
    bool prev_flag = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        opt_val_t *o = NULL;
        const char *val = NULL;
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (!cfg->args_metavar) {
                stray_operand(cfg, a, prev, prev_val, prev_flag, errstr, errstr_size);
                return CDC_CONFIG_ERROR;
            }
            cfg->args = cdc_xrealloc(cfg->args, (cfg->nargs + 1) * sizeof(char *));
            cfg->args[cfg->nargs++] = cdc_xstrdup(a);
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = true;
            prev = NULL;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(cfg, name, n);
            if (!o) {
                snprintf(errstr, errstr_size, "unknown option '--%.*s': see %s --help", (int)n,
                         name, cfg->prog);
                return CDC_CONFIG_ERROR;
            }
            if (eq)
                val = eq + 1;
        } else {
            o = find_short(cfg, a[1]);
            if (!o) {
                snprintf(errstr, errstr_size, "unknown option '-%c': see %s --help", a[1],
                         cfg->prog);
                return CDC_CONFIG_ERROR;
            }
            if (a[2])
                val = a + 2; /* -Xkey=value, -cFILE */
        }
        const char *want = o->def->type == CDC_OPT_ENUM ? o->def->choices
                           : o->def->metavar            ? o->def->metavar
                                                        : "VALUE";
        prev = NULL;
        if (!val) {
            if (o->def->type == CDC_OPT_BOOL) {
                val = "true";
                prev = o;
                prev_flag = true;
            } else if (i + 1 < argc && !looks_like_option(cfg, argv[i + 1])) {
                val = argv[++i];
                prev = o;
                prev_val = val;
                prev_flag = false;
            } else if (i + 1 < argc) {
                snprintf(errstr, errstr_size,
                         "option --%s needs a value (%s) before %s (write --%s=%s if that is "
                         "the value)",
                         o->def->key, want, argv[i + 1], o->def->key, argv[i + 1]);
                return CDC_CONFIG_ERROR;
            } else {
                snprintf(errstr, errstr_size, "option --%s needs a value (%s)", o->def->key, want);
                return CDC_CONFIG_ERROR;
            }
        }
        if (set_value(cfg, o, val, errstr, errstr_size) != 0)
            return CDC_CONFIG_ERROR;
    }

    if (cdc_config_get_bool(cfg, "help")) {
        cdc_config_help(cfg, out);
        return CDC_CONFIG_EXIT;
    }
    if (cdc_config_get_bool(cfg, "help-markdown")) {
        fputs("<!-- options -->\n", out);
        cdc_config_markdown(cfg, out);
        if (cfg->markdown_hook)
            cfg->markdown_hook(out);
        return CDC_CONFIG_EXIT;
    }
    if (cdc_config_get_bool(cfg, "version")) {
        fprintf(out, "%s %s\n", cfg->prog, version_line());
        return CDC_CONFIG_EXIT;
    }
    /* Defaults must be valid too: a bad default is caught by the tests. */
    for (size_t i = 0; i < cfg->nopts; i++) {
        const opt_val_t *o = &cfg->opts[i];
        if ((o->def->flags & CDC_OPT_REQUIRED) && o->nvals == 0 && !o->def->defval) {
            snprintf(errstr, errstr_size, "missing required option --%s %s: %s", o->def->key,
                     o->def->metavar ? o->def->metavar : "VALUE", o->def->help);
            return CDC_CONFIG_ERROR;
        }
    }
    if (cdc_config_get_bool(cfg, "dump-config")) {
        cdc_config_dump(cfg, out);
        return CDC_CONFIG_EXIT;
    }
    return CDC_CONFIG_OK;
}

const char *cdc_config_get(const cdc_config_t *cfg, const char *key)
{
    const opt_val_t *o = must_find(cfg, key);
    if (o->nvals)
        return o->vals[o->nvals - 1];
    return o->def->defval;
}

int64_t cdc_config_get_int(const cdc_config_t *cfg, const char *key)
{
    const char *v = cdc_config_get(cfg, key);
    return v ? strtoll(v, NULL, 10) : 0;
}

double cdc_config_get_double(const cdc_config_t *cfg, const char *key)
{
    const char *v = cdc_config_get(cfg, key);
    return v ? strtod(v, NULL) : 0.0;
}

bool cdc_config_get_bool(const cdc_config_t *cfg, const char *key)
{
    const char *v = cdc_config_get(cfg, key);
    bool b = false;
    if (v)
        parse_bool(v, &b);
    return b;
}

bool cdc_config_is_set(const cdc_config_t *cfg, const char *key)
{
    return must_find(cfg, key)->nvals > 0;
}

size_t cdc_config_get_list(const cdc_config_t *cfg, const char *key, const char *const **vals)
{
    const opt_val_t *o = must_find(cfg, key);
    *vals = (const char *const *)o->vals;
    return o->nvals;
}

size_t cdc_config_rdkafka(const cdc_config_t *cfg, const char *const **keys,
                          const char *const **vals)
{
    if (!cfg->nx) {
        *keys = *vals = NULL;
        return 0;
    }
    *keys = (const char *const *)cfg->xkeys;
    *vals = (const char *const *)cfg->xvals;
    return cfg->nx;
}

size_t cdc_config_args(const cdc_config_t *cfg, const char *const **args)
{
    *args = (const char *const *)cfg->args;
    return cfg->nargs;
}

/* librdkafka properties that carry secrets: any name with "password" or
 * "secret" (sasl.password, ssl.key.password, ...), and the key material. */
static bool rdkafka_secret(const char *key)
{
    return cdc_redact_is_secret_key(key, strlen(key)) || strstr(key, "sasl.oauthbearer") ||
           strstr(key, "ssl.key.pem") || strstr(key, "token");
}

static void redact_value(const cdc_opt_def_t *d, const char *v, char *out, size_t out_size)
{
    if (d->flags & CDC_OPT_CONNINFO)
        cdc_redact_conninfo(v, out, out_size);
    else if (d->flags & CDC_OPT_SENSITIVE)
        snprintf(out, out_size, "*****");
    else
        snprintf(out, out_size, "%s", v);
}

void cdc_config_dump(const cdc_config_t *cfg, FILE *out)
{
    char red[1024];
    for (size_t i = 0; i < cfg->nopts; i++) {
        const opt_val_t *o = &cfg->opts[i];
        const char *k = o->def->key;
        if (!strcmp(k, "help") || !strcmp(k, "version") || !strcmp(k, "dump-config") ||
            !strcmp(k, "X") || !strcmp(k, "config") || (o->def->flags & CDC_OPT_HIDDEN))
            continue;
        if (o->nvals == 0) {
            if (o->def->defval)
                fprintf(out, "%s=%s\n", k, o->def->defval);
            else
                fprintf(out, "# %s is not set\n", k);
            continue;
        }
        for (size_t j = 0; j < o->nvals; j++) {
            redact_value(o->def, o->vals[j], red, sizeof(red));
            fprintf(out, "%s=%s\n", k, red);
        }
    }
    for (size_t i = 0; i < cfg->nx; i++)
        fprintf(out, "X.%s=%s\n", cfg->xkeys[i],
                rdkafka_secret(cfg->xkeys[i]) ? "*****" : cfg->xvals[i]);
}

/* The option as --help and README name it: "-b, --brokers LIST". */
static void opt_head(const cdc_opt_def_t *d, bool indent, char *head, size_t size)
{
    int n;
    if (!strcmp(d->key, "X"))
        n = snprintf(head, size, "%s-X %s", indent ? "  " : "", d->metavar);
    else if (d->short_opt)
        n = snprintf(head, size, "%s-%c, --%s", indent ? "  " : "", d->short_opt, d->key);
    else
        n = snprintf(head, size, "%s--%s", indent ? "      " : "", d->key);
    if (strcmp(d->key, "X") && d->type != CDC_OPT_BOOL && n > 0 && (size_t)n < size)
        snprintf(head + n, size - (size_t)n, " %s",
                 d->type == CDC_OPT_ENUM ? d->choices : (d->metavar ? d->metavar : "VALUE"));
}

/* Options whose help says what repeating them does: no " [repeatable]". */
static bool says_repeatable(const cdc_opt_def_t *d)
{
    return !(d->flags & CDC_OPT_MULTI) || !strcmp(d->key, "X") || !strcmp(d->key, "config") ||
           strstr(d->help, "repeatable");
}

void cdc_config_help(const cdc_config_t *cfg, FILE *out)
{
    fprintf(out, "Usage: %s %s\n\nOptions:\n", cfg->prog, cfg->summary);
    bool kafka = false;
    for (size_t i = 0; i < cfg->nopts; i++) {
        const cdc_opt_def_t *d = cfg->opts[i].def;
        if (d->flags & CDC_OPT_HIDDEN)
            continue;
        kafka = kafka || !strcmp(d->key, "X");
        char head[96];
        opt_head(d, true, head, sizeof(head));
        fprintf(out, "%-34s %s", head, d->help);
        if (d->defval)
            fprintf(out, " (default: %s)", d->defval);
        if (d->flags & CDC_OPT_REQUIRED)
            fputs(" [required]", out);
        if (!says_repeatable(d))
            fputs(" [repeatable]", out);
        fputc('\n', out);
    }
    fputs(kafka ? "\nEvery long option can also be set in a -c file as key=value; X.<prop>=value\n"
                  "sets a librdkafka property. Later settings override earlier ones.\n"
                : "\nEvery long option can also be set in a -c file as key=value. Later settings\n"
                  "override earlier ones.\n",
          out);
    fputs("Exit codes: 0 success, 1 ran but found a problem, 2 usage/config/connection error.\n",
          out);
}

/* @p s into a Markdown table cell: '|' escaped (also inside code spans). */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void cdc_config_markdown(const cdc_config_t *cfg, FILE *out)
{
    fputs("| option | default | meaning |\n| --- | --- | --- |\n", out);
    for (size_t i = 0; i < cfg->nopts; i++) {
        const cdc_opt_def_t *d = cfg->opts[i].def;
        if (d->flags & CDC_OPT_HIDDEN)
            continue;
        char head[96];
        opt_head(d, false, head, sizeof(head));
        fputs("| `", out);
        md_cell(out, head);
        fputs("` |", out);
        if (d->flags & CDC_OPT_REQUIRED)
            fputs(" required", out);
        else if (d->type == CDC_OPT_BOOL && d->defval)
            fputs(!strcmp(d->defval, "true") ? " on" : " off", out);
        else if (d->defval && *d->defval) {
            fputs(" `", out);
            md_cell(out, d->defval);
            fputc('`', out);
        }
        fputs(" | ", out);
        md_cell(out, d->help);
        if (!says_repeatable(d))
            fputs(" (repeatable)", out);
        fputs(" |\n", out);
    }
}

void cdc_config_on_help_markdown(cdc_config_t *cfg, void (*fn)(FILE *out))
{
    cfg->markdown_hook = fn;
}
