/*
 * cli.h - what the `mfkv` subcommands share.  The CLI is thin: each cmd_*.c
 * parses its arguments, calls the libraries and formats the result.
 */
#ifndef MFKV_CLI_H
#define MFKV_CLI_H

#include "mfkv.h"

/*
 * Exit codes: the one mapping from an mfkv_status (include/mfkv.h) to the
 * process's exit code, used by every command through cli_exit_for() and
 * printed by `mfkv --help` (MFKV_EXIT_CODES_HELP) and in README.md:
 *
 *   0  MFKV_OK
 *   1  MFKV_NOTFOUND                      get, predict: an id is not there
 *   2  (none: the CLI's own checks)        a bad command line
 *   3  MFKV_IO, NOMEM, INVAL, PARSE,       bad input data, an input or output
 *      LIMIT, INTERNAL, CHANGED            the library refused, an I/O error
 *                                          (a folder where a file belongs
 *                                          too), any other failure
 *   4  MFKV_CORRUPT, FORMAT, VERSION      a store or model file that is
 *                                          damaged, not that kind of file, or
 *                                          of a newer major version
 *
 * MFKV_INVAL is 3, not 2: the library refuses arguments the command line
 * passed on only after looking at data (shards that do not belong together,
 * an output folder that is not empty, no test rating), so "usage" is kept for
 * what the CLI itself rejects before doing any work.
 */
enum {
    MFKV_EXIT_OK = 0,
    MFKV_EXIT_NOTFOUND = 1,
    MFKV_EXIT_USAGE = 2,
    MFKV_EXIT_INPUT = 3,
    MFKV_EXIT_CORRUPT = 4,
};

#define MFKV_EXIT_CODES_HELP                                                             \
    "  0  success (get: every id found)\n"                                               \
    "  1  get, predict: an id not found\n"                                               \
    "  2  usage error: a bad command line\n"                                             \
    "  3  bad input data, an I/O error (a folder given for a file too), or another\n"    \
    "     failure\n"                                                                     \
    "  4  a store or model file that is corrupt, not that kind of file, or of a newer\n" \
    "     major version\n"

/* What an argument parser returns: run the command, stop with exit 0 (it
 * printed --help), or stop with a usage error (it printed why). */
typedef enum cli_parsed { CLI_PARSED_RUN = 0, CLI_PARSED_HELP = 1, CLI_PARSED_USAGE = -1 } cli_parsed;

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

/* With --titles asked for (@p titles), warn once when the store has none. */
void cli_warn_if_no_titles(mfkv_store *st, const char *path, int titles);

/* The default of every --threads: the online CPUs (at least 1). */
uint32_t cli_online_cpus(void);

/* "mfkv: warning: PATH: skipped N invalid line(s)" when N > 0. */
void cli_report_skipped(const char *path, size_t n);

/* "mfkv: " + message on stderr, newline added. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing for options; print an error naming @p opt on failure. */
int cli_parse_u32(const char *opt, const char *s, unsigned long min, unsigned long max, uint32_t *out);
int cli_parse_double(const char *opt, const char *s, double *out);

/* On SIGINT, SIGTERM and SIGHUP remove the temporary file or folder being
 * written (mfkv_atomic_remove_pending), then die of the signal. */
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
