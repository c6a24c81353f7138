#include "cli.h"

int cmd_predict(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("predict: not implemented yet");
    return MFKV_EXIT_INPUT;
}
