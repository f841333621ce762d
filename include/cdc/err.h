/**
 * @file err.h
 * @brief Error classes shared by every module.
 *
 * Fallible calls return 0 on success or -1 and fill errstr; when the caller
 * must decide between retrying, dead-lettering and stopping, the call also
 * reports a class. Loops switch on the class, never on message text.
 */
#ifndef CDC_ERR_H
#define CDC_ERR_H

typedef enum cdc_err_class {
    CDC_ERR_NONE = 0,
    /** Transient: a connection dropped, a deadlock, a registry timeout.
     *  Retry the same work later; nothing about the input is wrong. */
    CDC_ERR_RETRIABLE,
    /** This one input cannot be processed (malformed message, a value that
     *  does not fit the column). Stop, or dead-letter it and go on. */
    CDC_ERR_POISON,
    /** The configuration or environment is wrong; retrying cannot help. */
    CDC_ERR_FATAL,
} cdc_err_class_t;

/** @brief Name of an error class: "retriable", "poison", "fatal" or "none". */
const char *cdc_err_class_name(cdc_err_class_t cls);

#endif
