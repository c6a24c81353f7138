#include "cli.h"

int cmd_weights(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("weights: not implemented yet");
    return MFKV_EXIT_INPUT;
}
