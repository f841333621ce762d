/**
 * @file app.h
 * @brief cdc-apply's main loop: consume, decode, route, batch, apply,
 *        account. main() only parses the configuration and calls this.
 */
#ifndef CDC_APP_H
#define CDC_APP_H

#include <signal.h>

#include "cdc/config.h"

/** Set by the signal handler; the loop finishes the open batch and stops. */
extern volatile sig_atomic_t cdc_app_stop;

/** @brief The handler for SIGTERM, SIGINT and SIGALRM (async-signal-safe).
 *  SIGTERM/SIGINT set cdc_app_stop; a wait on the target still under way
 *  3 s later (or at a second request) has its connection cut. SIGALRM
 *  serves --target-timeout. */
void cdc_app_on_signal(int sig);

/** The cdc-apply option table (shared with tests and docs). */
extern const struct cdc_opt_def cdc_apply_options[];

/**
 * @brief Run cdc-apply with a parsed configuration until stopped, idle
 *        (--exit-on-idle) or failed.
 * @returns the process exit code: 0 stopped cleanly (also on a stop request
 *          during an outage), 1 a record could not be applied (tolerance
 *          none) or a gap (--on-gap fail), 2 configuration or connection
 *          error.
 */
int cdc_app_run(const cdc_config_t *cfg);

#endif
