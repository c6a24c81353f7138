#include "cli.h"

int cmd_dump(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("dump: not implemented yet");
    return MFKV_EXIT_INPUT;
}
