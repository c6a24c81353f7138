/* A signal must not leave a half-written temporary next to an output: every
 * command that writes one (build, merge, train, weights, recommend -o)
 * installs this handler before it starts. */
#include <signal.h>

#include "cli.h"
#include "common/atomic_file.h"

static void remove_partial_and_die(int sig)
{
    mfkv_atomic_remove_pending();
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_remove_partial_on_signals(void)
{
    signal(SIGINT, remove_partial_and_die);
    signal(SIGTERM, remove_partial_and_die);
    signal(SIGHUP, remove_partial_and_die);
}
