#include "cli.h"

int cmd_train(int argc, char **argv)
{
    (void)argc; (void)argv;
    cli_error("train: not implemented yet");
    return MFKV_EXIT_INPUT;
}
