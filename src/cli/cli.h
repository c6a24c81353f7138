/*
 * cli.h - what the `mfkv` subcommands share.  The CLI is thin: each cmd_*.c
 * parses its arguments, calls the libraries and formats the result.
 */
#ifndef MFKV_CLI_H
#define MFKV_CLI_H

#include "mfkv.h"

/* Exit codes, documented in `mfkv --help`. */
enum {
    MFKV_EXIT_OK = 0,       /* success; for get: every id was found */
    MFKV_EXIT_NOTFOUND = 1, /* get: at least one id was not in the store */
    MFKV_EXIT_USAGE = 2,    /* bad command line */
    MFKV_EXIT_INPUT = 3,    /* bad input file, I/O error, or other failure */
    MFKV_EXIT_CORRUPT = 4,  /* the store is corrupt, foreign or of a newer version */
};

/* Store path: the -s/--store value if given, else $MFKV_STORE, else this. */
#define MFKV_DEFAULT_STORE "mfkv.store"
const char *cli_store_path(const char *flag_value);

/* Open the store named by -s (or $MFKV_STORE, or the default); on failure
 * print why, naming the file, and return the exit code (0 on success). */
int cli_open_store(const char *flag_value, unsigned flags, mfkv_store **out);
/* The message for a store mfkv_open refused with @p rc (errno still set):
 * a newer major version names the store's format version and the one this
 * mfkv reads. */
void cli_open_error(const char *path, int rc);

/* Before any work: fail (print why, naming @p path, and return
 * MFKV_EXIT_INPUT) unless the folder that will hold @p path exists and is
 * writable, so a long run cannot end in "cannot create a temporary file".
 * Returns 0 when it is. */
int cli_check_output(const char *path);

/* Map a library status to the exit code above. */
int cli_exit_for(int status);

/* "mfkv: " + message on stderr, newline added. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing for options; print an error naming @p opt on failure. */
int cli_parse_u32(const char *opt, const char *s, unsigned long min, unsigned long max, uint32_t *out);
int cli_parse_double(const char *opt, const char *s, double *out);

/* On SIGINT, SIGTERM and SIGHUP remove the output being written, then die. */
void cli_remove_partial_on_signals(void);

/* Subcommands: argv[0] is the subcommand name; getopt_long-ready. */
int cmd_build(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_weights(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_merge(int argc, char **argv);

#endif
