#include <stdio.h>
#include "mfkv.h"
int main(void) { printf("mfkv %s\n", mfkv_version()); return 0; }
