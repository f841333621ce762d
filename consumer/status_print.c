/* cdc-apply --status's output: the report (status_report_int.h) as a
 * text table or as one JSON document. */
#include "status_report_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"caught-up", "behind", "GAP", "AHEAD", "GONE"};

static void fmt_ll(char *out, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%lld", (long long)v);
}

void cdc_status_print_text(const report_t *r, FILE *out)
{
    int w = (int)strlen("PARTITION");
    char name[512], pos[32], lo[32], hi[32], lag[32], lag_s[32];
    for (size_t i = 0; i < r->nparts; i++) {
        int n = snprintf(name, sizeof name, "%s[%d]", r->parts[i].topic, r->parts[i].partition);
        if (n > w)
            w = n;
    }
    fprintf(out, "%-*s  %10s  %10s  %10s  %10s  %11s  %s\n", w, "PARTITION", "POSITION",
            "LOG-START", "LOG-END", "LAG", "LAG-SECONDS", "STATE");
    for (size_t i = 0; i < r->nparts; i++) {
        const part_t *p = &r->parts[i];
        snprintf(name, sizeof name, "%s[%d]", p->topic, p->partition);
        fmt_ll(pos, sizeof pos, p->stored);
        fmt_ll(lo, sizeof lo, p->lo);
        fmt_ll(hi, sizeof hi, p->hi);
        fmt_ll(lag, sizeof lag, p->lag);
        if (isnan(p->lag_s))
            snprintf(lag_s, sizeof lag_s, "unknown");
        else if (p->lag_s == 0)
            snprintf(lag_s, sizeof lag_s, "0");
        else
            snprintf(lag_s, sizeof lag_s, "%.1f", p->lag_s);
        fprintf(out, "%-*s  %10s  %10s  %10s  %10s  %11s  %s\n", w, name, pos, lo, hi, lag, lag_s,
                state_names[p->st]);
    }
    fputc('\n', out);
    w = (int)strlen("TABLE");
    for (size_t i = 0; i < r->ntables; i++)
        if ((int)strlen(r->tables[i].name) > w)
            w = (int)strlen(r->tables[i].name);
    fprintf(out, "%-*s  %8s  %-8s  %s\n", w, "TABLE", "SCORE", "STATUS", "FINISHED-AT");
    for (size_t i = 0; i < r->ntables; i++) {
        const table_t *t = &r->tables[i];
        char score[32];
        if (t->has_score)
            snprintf(score, sizeof score, "%.6f", t->score);
        else
            snprintf(score, sizeof score, "-");
        fprintf(out, "%-*s  %8s  %-8s  %s\n", w, t->name, score, t->status,
                t->finished_at ? t->finished_at : "-");
    }
    if (!r->ntables)
        fputs("(no cdc-verify run stored)\n", out);
}

static json_t *int_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

void cdc_status_print_json(const report_t *r, const cdc_config_t *cfg, FILE *out)
{
    json_t *doc = json_object(), *parts = json_array(), *tables = json_array(),
           *viol = json_array();
    json_object_set_new(doc, "group", json_string(cdc_config_get(cfg, "group")));
    json_object_set_new(doc, "state_schema", json_string(cdc_config_get(cfg, "state-schema")));
    json_object_set_new(doc, "max_lag_seconds",
                        r->have_max_lag ? json_real(r->max_lag) : json_null());
    json_object_set_new(doc, "min_score",
                        r->have_min_score ? json_real(r->min_score) : json_null());
    for (size_t i = 0; i < r->nparts; i++) {
        const part_t *p = &r->parts[i];
        json_t *o = json_object();
        json_object_set_new(o, "topic", json_string(p->topic));
        json_object_set_new(o, "partition", json_integer(p->partition));
        json_object_set_new(o, "position", int_or_null(p->stored));
        json_object_set_new(o, "log_start", int_or_null(p->lo));
        json_object_set_new(o, "log_end", int_or_null(p->hi));
        json_object_set_new(o, "lag_records", int_or_null(p->lag));
        /* Milliseconds resolution, like the timestamps it comes from. */
        json_object_set_new(o, "lag_seconds",
                            isnan(p->lag_s) ? json_null()
                                            : json_real(round(p->lag_s * 1000) / 1000));
        json_object_set_new(o, "first_unapplied_offset", int_or_null(p->first_off));
        json_object_set_new(o, "first_unapplied_timestamp_ms", int_or_null(p->first_ts));
        json_object_set_new(o, "state", json_string(state_names[p->st]));
        json_array_append_new(parts, o);
    }
    for (size_t i = 0; i < r->ntables; i++) {
        const table_t *t = &r->tables[i];
        json_t *o = json_object();
        json_object_set_new(o, "table", json_string(t->name));
        json_object_set_new(o, "score", t->has_score ? json_real(t->score) : json_null());
        json_object_set_new(o, "status", json_string(t->status));
        json_object_set_new(o, "threshold",
                            t->has_threshold ? json_real(t->threshold) : json_null());
        json_object_set_new(o, "finished_at",
                            t->finished_at ? json_string(t->finished_at) : json_null());
        json_object_set_new(o, "run_id", json_integer(t->run_id));
        json_object_set_new(o, "error", t->error ? json_string(t->error) : json_null());
        json_array_append_new(tables, o);
    }
    for (size_t i = 0; i < r->nviol; i++) {
        const violation_t *v = &r->viol[i];
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(v->kind));
        if (v->p) {
            json_object_set_new(o, "topic", json_string(v->p->topic));
            json_object_set_new(o, "partition", json_integer(v->p->partition));
        } else if (v->topic) {
            json_object_set_new(o, "topic", json_string(v->topic));
        }
        if (v->t)
            json_object_set_new(o, "table", json_string(v->t->name));
        json_object_set_new(o, "message", json_string(v->msg));
        json_array_append_new(viol, o);
    }
    json_object_set_new(doc, "partitions", parts);
    json_object_set_new(doc, "tables", tables);
    json_object_set_new(doc, "violations", viol);
    json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    fputc('\n', out);
    json_decref(doc);
}
