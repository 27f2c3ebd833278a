/* target.c: the harness's chip layer on Cortex-M under QEMU: semihosting output and exit,
 * a marker for the instruction-counting plugin, and stack painting.
 */
#include <stdint.h>

#include "../target.h"

extern uint32_t __stack_limit; /* mps2.ld: the end of .bss */

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023u
#define STACK_PATTERN 0xA5C3E187u
#define STACK_PAINT_MAX (256u * 1024u) /* bytes painted at most: enough for any model here, quick to scan */

/* One semihosting call: operation in r0, argument in r1, BKPT 0xAB (M-profile). */
static uint32_t semihost(uint32_t operation, const void *argument)
{
    register uint32_t r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void target_init(void) {}

void target_write(const char *text)
{
    semihost(SYS_WRITE0, text);
}

void target_exit(int status)
{
    /* AArch32 SYS_EXIT takes the reason alone; QEMU exits 0 for ApplicationExit, 1 otherwise.
     * The status itself is printed by firmware.c, so the runner reads it from the output. */
    semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                              : ADP_STOPPED_RUN_TIME_ERROR));
    for (;;) {
    }
}

__attribute__((noinline)) void target_mark(void)
{
    __asm__ volatile("" ::: "memory");
}

uint32_t target_cycles(void)
{
    return 0;
}

static uint32_t *painted_bottom, *painted_top;

__attribute__((noinline)) uint32_t target_paint_stack(void)
{
    uint32_t here;
    /* Stop 64 bytes below this frame: the pattern must not overwrite what is live. */
    painted_top = (uint32_t *)((uintptr_t)&here & ~(uintptr_t)3) - 16;
    painted_bottom = &__stack_limit;
    if ((uintptr_t)painted_top - (uintptr_t)painted_bottom > STACK_PAINT_MAX) {
        painted_bottom = painted_top - STACK_PAINT_MAX / 4u;
    }
    for (uint32_t *p = painted_bottom; p < painted_top; p++) {
        *p = STACK_PATTERN;
    }
    return (uint32_t)((uintptr_t)painted_top - (uintptr_t)painted_bottom);
}

__attribute__((noinline)) uintptr_t target_stack_low_water(void)
{
    const uint32_t *p = painted_bottom;
    while (p < painted_top && *p == STACK_PATTERN) {
        p++;
    }
    return (uintptr_t)p;
}
