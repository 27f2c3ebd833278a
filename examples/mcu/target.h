/* target.h: what firmware.c needs from a chip: text output, exit, a stack probe and a counter.
 *
 * cortex_m/target.c implements it with semihosting on QEMU's mps2 boards, avr/target.c with
 * UART0 and Timer1 on simavr. Nothing here is model-specific.
 */
#ifndef KL_HARNESS_TARGET_H
#define KL_HARNESS_TARGET_H

#include <stdint.h>

/* Set up the chip (UART, timer); called first thing in main. */
void target_init(void);

/* Write a NUL-terminated string to the host. */
void target_write(const char *text);

/* Stop the simulation; status 0 means the firmware finished. Never returns. */
void target_exit(int status) __attribute__((noreturn));

/* An empty, never-inlined function: the QEMU counting plugin records the instruction count each
 * time it runs (examples/mcu/insn_count.c). Calls to it bracket the code being measured. */
void target_mark(void);

/* A cycle counter where the chip has one the simulator models exactly (AVR Timer1); 0 elsewhere. */
uint32_t target_cycles(void);

/* Fill the unused stack below the caller's frame with a pattern; return how many bytes. */
uint32_t target_paint_stack(void);

/* The lowest address whose paint was overwritten since target_paint_stack (the high-water mark). */
uintptr_t target_stack_low_water(void);

/* The first byte above the stack in use where this is expanded: the stack a call made from
 * here uses is TARGET_STACK_TOP() - target_stack_low_water() bytes. */
#if defined(__AVR__)
#include <avr/io.h>
#define TARGET_STACK_TOP() ((uintptr_t)SP + 1u) /* AVR stores at SP, then decrements it */
#else
#define TARGET_STACK_TOP() target_arm_stack_pointer()
static inline uintptr_t target_arm_stack_pointer(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}
#endif

#endif
