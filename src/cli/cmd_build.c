#include "cli.h"

int cmd_build(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("build: not implemented yet");
    return MFKV_EXIT_INPUT;
}
