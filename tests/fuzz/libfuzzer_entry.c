/* The libFuzzer entry point of one target, chosen at compile time by
 * tools/fuzz.sh with -DFUZZ_TARGET_FN=fuzz_<target>_one. */
#include <stddef.h>
#include <stdint.h>

int FUZZ_TARGET_FN(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return FUZZ_TARGET_FN(data, size);
}
