#include "cli.h"

int cmd_get(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("get: not implemented yet");
    return MFKV_EXIT_INPUT;
}
