/**
 * @file config.h
 * @brief One configuration table per program drives long options, the
 *        `-c FILE` config file, `-X key=value` librdkafka pass-through,
 *        validation, `--help`, `--version` and the redacted `--dump-config`.
 *
 * Options common to every program (--config/-c, --log-level, --log-format,
 * --help, --version, --dump-config) are added by the module; -X (librdkafka
 * properties) is added for programs whose table has a "brokers" option.
 * A program's table lists only its own options.
 */
#ifndef CDC_CONFIG_H
#define CDC_CONFIG_H

/* cdc_redact_conninfo() and friends: the dump uses them, callers too. */
#include "cdc/redact.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cdc_opt_type {
    CDC_OPT_STRING = 0, /**< any text */
    CDC_OPT_INT,        /**< integer within [min, max] */
    CDC_OPT_DOUBLE,     /**< real number within [min, max] */
    CDC_OPT_BOOL,       /**< flag; `--x`, `--x=true|false`, file `x=true` */
    CDC_OPT_ENUM,       /**< one of choices ("none|all") */
} cdc_opt_type_t;

/** The option holds a secret: redacted in --dump-config and logs. Values
 *  that are conninfo strings or URIs get only their password redacted. */
#define CDC_OPT_SENSITIVE 0x1
/** The option must be given (by flag or config file). */
#define CDC_OPT_REQUIRED 0x2
/** The option may be repeated; every value is kept (cdc_config_get_list). */
#define CDC_OPT_MULTI 0x4
/** The value is a libpq conninfo or URI: its password is redacted. */
#define CDC_OPT_CONNINFO 0x8
/** Not listed by --help, --dump-config or --help-markdown (the docs
 *  generator's own flag). */
#define CDC_OPT_HIDDEN 0x10

/** One row of a program's configuration table. */
typedef struct cdc_opt_def {
    const char *key; /**< long option name and config-file key */
    char short_opt;  /**< single-letter alias, or 0 */
    cdc_opt_type_t type;
    const char *defval;  /**< default as text, or NULL for none */
    double min, max;     /**< bounds for INT/DOUBLE (ignored if min > max) */
    const char *choices; /**< ENUM choices separated by '|' */
    unsigned flags;      /**< CDC_OPT_* */
    const char *metavar; /**< shown in --help ("N", "CONNINFO") */
    const char *help;    /**< one line */
} cdc_opt_def_t;

typedef struct cdc_config_s cdc_config_t;

/**
 * @brief New configuration for program @p prog.
 * @param prog    program name for messages ("cdc-apply"); borrowed, static.
 * @param summary one-line usage shown by --help; borrowed, static.
 * @param defs    the program's table, terminated by an entry whose key is
 *                NULL; borrowed, must outlive the config.
 * @returns new handle (free with cdc_config_destroy()).
 */
cdc_config_t *cdc_config_new(const char *prog, const char *summary, const cdc_opt_def_t *defs);

/** @brief Free. Accepts NULL. */
void cdc_config_destroy(cdc_config_t *cfg);

/** Outcome of cdc_config_parse(). */
typedef enum cdc_config_status {
    CDC_CONFIG_OK = 0,     /**< run the program */
    CDC_CONFIG_EXIT = 1,   /**< --help/--version/--dump-config printed: exit 0 */
    CDC_CONFIG_ERROR = -1, /**< errstr says what to fix: exit 2 */
} cdc_config_status_t;

/**
 * @brief Parse argv (and the -c file, read where it appears, so later
 *        flags override it), apply defaults and validate everything.
 *
 * Positional arguments (operands) are a usage error naming the word and
 * the likely mistake, unless cdc_config_allow_args() was called: then they
 * are kept and available via cdc_config_args(). A value that is spelled
 * like one of the table's long options is not taken as the previous
 * option's value ("--table --all-tables" is a missing value).
 * --help, --version and --dump-config print to @p out.
 */
cdc_config_status_t cdc_config_parse(cdc_config_t *cfg, int argc, char **argv, FILE *out,
                                     char *errstr, size_t errstr_size);

/** @brief Accept positional operands (cdc-decode's FILEs); @p metavar
 *  (borrowed, static) names them. Call before cdc_config_parse(). */
void cdc_config_allow_args(cdc_config_t *cfg, const char *metavar);

/** @brief Set one option as if from the command line (key without "--").
 *  Returns 0, or -1 with errstr naming the key and the fix. */
int cdc_config_set(cdc_config_t *cfg, const char *key, const char *value, char *errstr,
                   size_t errstr_size);

/** @brief Last value of @p key (borrowed) or NULL when unset without a
 *  default. Asking for a key not in the table aborts (a programming bug). */
const char *cdc_config_get(const cdc_config_t *cfg, const char *key);
/** @brief Integer value (0 when unset). */
int64_t cdc_config_get_int(const cdc_config_t *cfg, const char *key);
/** @brief Real value (0 when unset). */
double cdc_config_get_double(const cdc_config_t *cfg, const char *key);
/** @brief Boolean value (false when unset). */
bool cdc_config_get_bool(const cdc_config_t *cfg, const char *key);
/** @brief True when the user gave @p key (not just the default). */
bool cdc_config_is_set(const cdc_config_t *cfg, const char *key);
/** @brief All values of a CDC_OPT_MULTI option in order; @p vals is
 *  borrowed. Returns the count. */
size_t cdc_config_get_list(const cdc_config_t *cfg, const char *key, const char *const **vals);

/** @brief The -X key=value pairs in order (borrowed arrays of equal length).
 *  Returns the count. */
size_t cdc_config_rdkafka(const cdc_config_t *cfg, const char *const **keys,
                          const char *const **vals);

/** @brief Positional arguments (borrowed). Returns the count. */
size_t cdc_config_args(const cdc_config_t *cfg, const char *const **args);

/** @brief Write every option as `key=value` with secrets redacted. */
void cdc_config_dump(const cdc_config_t *cfg, FILE *out);

/** @brief Write --help text generated from the table. */
void cdc_config_help(const cdc_config_t *cfg, FILE *out);

/**
 * @brief Write the table as README rows (Markdown: option, default,
 *        meaning), from the same rows --help prints. The hidden common flag
 *        --help-markdown prints these (after a line `<!-- options -->`),
 *        then runs the program's hook (cdc_config_on_help_markdown()), and
 *        exits; scripts/gen-docs.py puts them into README.md.
 */
void cdc_config_markdown(const cdc_config_t *cfg, FILE *out);

/** @brief What --help-markdown prints after the option rows (e.g. the
 *  program's metric rows); @p fn runs with the output stream. */
void cdc_config_on_help_markdown(cdc_config_t *cfg, void (*fn)(FILE *out));

#endif
