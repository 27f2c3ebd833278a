/* startup.c: vector table and reset handler for the harness firmware on Cortex-M (mps2 boards).
 *
 * Reset copies .data to RAM, zeroes .bss, turns the FPU on where the build uses one
 * (CPACR: full access to CP10/CP11) and runs main, which ends in target_exit. A fault prints its name and exits with status 3, so a crash fails the test
 * instead of hanging the emulator.
 */
#include <stdint.h>

#include "../target.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
int main(void);
void reset_handler(void);

static void fault(const char *name)
{
    target_write(name);
    target_write(": fault\n");
    target_exit(3);
}

static void nmi_handler(void) { fault("nmi"); }
static void hard_fault_handler(void) { fault("hard fault"); }
static void mem_manage_handler(void) { fault("memory management"); }
static void bus_fault_handler(void) { fault("bus fault"); }
static void usage_fault_handler(void) { fault("usage fault"); }
static void other_handler(void) { fault("unexpected exception"); }

typedef void (*handler)(void);

__attribute__((section(".vectors"), used)) static const handler vectors[16] = {
    (handler)(uintptr_t)&__stack_top, /* initial stack pointer */
    reset_handler,
    nmi_handler,
    hard_fault_handler,
    mem_manage_handler,
    bus_fault_handler,
    usage_fault_handler,
    other_handler, other_handler, other_handler, other_handler, /* reserved */
    other_handler,                                              /* SVCall */
    other_handler, other_handler,                               /* debug monitor, reserved */
    other_handler,                                              /* PendSV */
    other_handler,                                              /* SysTick */
};

void reset_handler(void)
{
    const uint32_t *from = &__data_load;
    for (uint32_t *to = &__data_start; to < &__data_end;) {
        *to++ = *from++;
    }
    for (uint32_t *to = &__bss_start; to < &__bss_end;) {
        *to++ = 0;
    }
#if defined(__ARM_FP)
    volatile uint32_t *const cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    target_exit(main());  /* firmware.c's main never returns; this is for any other program */
}
