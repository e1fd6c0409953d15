// libFuzzer's driver entry point (compiler-rt, FuzzerInterface.h), linked by -sanitize=fuzzer.
// The harnesses call it from their own main rather than relying on libFuzzer's main, because
// SwiftPM renames an executable's entry point (main=<module>_main) when it links.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
