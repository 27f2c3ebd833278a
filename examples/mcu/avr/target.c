/* target.c: the harness's chip layer on AVR under simavr: UART0 output, exit by sleeping with
 * interrupts off (simavr then stops), Timer1 as an exact cycle counter, and stack painting.
 *
 * avr-libc's start-up code sets the stack pointer to RAMEND, copies .data and clears .bss.
 */
#include <stdint.h>

#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>

#include "../target.h"

#ifndef F_CPU
#define F_CPU 16000000UL
#endif
#define BAUD 115200UL
#define STACK_PATTERN 0xA5u

extern uint8_t __heap_start; /* avr-libc's linker scripts: the end of .bss */

static volatile uint16_t timer_overflows;

ISR(TIMER1_OVF_vect)
{
    timer_overflows++;
}

void target_init(void)
{
    UBRR0H = (uint8_t)((F_CPU / 8 / BAUD - 1) >> 8);
    UBRR0L = (uint8_t)(F_CPU / 8 / BAUD - 1);
    UCSR0A = _BV(U2X0);
    UCSR0B = _BV(TXEN0);
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
    TCCR1A = 0;
    TCCR1B = _BV(CS10); /* Timer1 counts CPU cycles (no prescaler) */
    TIMSK1 = _BV(TOIE1);
    sei();
}

void target_write(const char *text)
{
    for (; *text; text++) {
        loop_until_bit_is_set(UCSR0A, UDRE0);
        UDR0 = (uint8_t)*text;
    }
}

void target_exit(int status)
{
    (void)status; /* firmware.c printed it; simavr's own exit status says nothing about it */
    cli();
    sleep_enable();
    sleep_cpu(); /* simavr: "sleeping with interrupts off, quitting gracefully" */
    for (;;) {
    }
}

__attribute__((noinline)) void target_mark(void)
{
    __asm__ volatile("" ::: "memory");
}

uint32_t target_cycles(void)
{
    const uint8_t sreg = SREG;
    cli();
    const uint16_t low = TCNT1;
    uint16_t high = timer_overflows;
    if ((TIFR1 & _BV(TOV1)) && low < 0x8000u) { /* it wrapped before `low` was read, ISR pending */
        high++;
    }
    SREG = sreg;
    return ((uint32_t)high << 16) | low;
}

static uint8_t *painted_top;

__attribute__((noinline)) uint32_t target_paint_stack(void)
{
    uint8_t here;
    painted_top = &here - 32; /* keep clear of this frame */
    for (uint8_t *p = &__heap_start; p < painted_top; p++) {
        *p = STACK_PATTERN;
    }
    return (uint32_t)(painted_top - &__heap_start);
}

__attribute__((noinline)) uintptr_t target_stack_low_water(void)
{
    const uint8_t *p = &__heap_start;
    while (p < painted_top && *p == STACK_PATTERN) {
        p++;
    }
    return (uintptr_t)p;
}
