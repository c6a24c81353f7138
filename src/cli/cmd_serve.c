#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("serve: not implemented yet");
    return MFKV_EXIT_INPUT;
}
