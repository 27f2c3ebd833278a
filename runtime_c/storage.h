/* storage.h: where the header's constant arrays live and how the kernels read them.
 *
 * Every static const array of a generated header (weights, index tables, test vectors) is
 * declared with KERASLESS_WEIGHTS after its name, and every kernel reads such an array through
 * KL_LOAD_F32 / KL_LOAD_INT (KL_LOAD_I8 / KL_LOAD_U16 for int8 and float16 dense kernels,
 * export-model --weights), never with a plain dereference:
 *
 *  - AVR (Harvard: flash is not in the data address space). By default KERASLESS_WEIGHTS is
 *    PROGMEM and the loads are pgm_read_float / pgm_read_word, so the arrays stay in flash and
 *    take no SRAM (a plain `static const` array would be copied to SRAM at start-up). This
 *    reaches the first 64 KiB of flash (near pointers).
 *  - Everywhere else KERASLESS_WEIGHTS is empty: `static const` data already stays in flash on
 *    Cortex-M (.rodata), and the loads are plain reads.
 *
 * To place the arrays in a section of your own (external flash, a region your linker script
 * keeps), define KERASLESS_WEIGHTS before including the header, e.g.
 *     #define KERASLESS_WEIGHTS __attribute__((section(".model_weights")))
 * and, on AVR, KERASLESS_PROGMEM to 1 if that section is in program memory (0 if it is in RAM).
 * This file is pasted first into every header; the kernels fall back to plain reads when they
 * are compiled alone.
 */
#ifndef KERASLESS_KERNEL_STORAGE
#define KERASLESS_KERNEL_STORAGE

#if !defined(KERASLESS_PROGMEM)
#if defined(__AVR__) && !defined(KERASLESS_WEIGHTS)
#define KERASLESS_PROGMEM 1
#else
#define KERASLESS_PROGMEM 0
#endif
#endif

#if KERASLESS_PROGMEM
#include <avr/pgmspace.h>
#ifndef KERASLESS_WEIGHTS
#define KERASLESS_WEIGHTS PROGMEM
#endif
#define KL_LOAD_F32(p) pgm_read_float(p)
#define KL_LOAD_INT(p) ((int)pgm_read_word(p)) /* int is 16 bits on AVR */
#define KL_LOAD_I8(p) ((signed char)pgm_read_byte(p))
#define KL_LOAD_U16(p) ((unsigned short)pgm_read_word(p))
#else
#ifndef KERASLESS_WEIGHTS
#define KERASLESS_WEIGHTS
#endif
#define KL_LOAD_F32(p) (*(p))
#define KL_LOAD_INT(p) (*(p))
#define KL_LOAD_I8(p) (*(p))
#define KL_LOAD_U16(p) (*(p))
#endif

#endif /* KERASLESS_KERNEL_STORAGE */
