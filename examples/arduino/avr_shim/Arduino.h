/* Arduino.h for CI: just what digit_classifier.ino uses (Serial on UART0), so the sketch builds
 * with plain avr-gcc and runs in simavr, where the Arduino core is not installed. With the
 * Arduino IDE the real Arduino.h is used instead; this file is not part of the sketch.
 * main() runs setup() and loop() once, then sleeps with interrupts off: simavr stops there.
 */
#ifndef KERASLESS_ARDUINO_SHIM_H
#define KERASLESS_ARDUINO_SHIM_H

#include <avr/io.h>
#include <avr/pgmspace.h>
#include <stdlib.h>

class ShimSerial {
public:
    void begin(unsigned long baud)
    {
        const unsigned int divisor = (unsigned int)(F_CPU / 8UL / baud - 1UL);
        UBRR0H = (unsigned char)(divisor >> 8);
        UBRR0L = (unsigned char)divisor;
        UCSR0A = _BV(U2X0);
        UCSR0B = _BV(TXEN0);
        UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
    }
    void print(const char *text)
    {
        for (; *text; text++) {
            loop_until_bit_is_set(UCSR0A, UDRE0);
            UDR0 = (unsigned char)*text;
        }
    }
    void print(int value)
    {
        char digits[8];
        itoa(value, digits, 10);
        print(static_cast<const char *>(digits));
    }
    void println(int value)
    {
        print(value);
        print("\n");
    }
};

extern ShimSerial Serial;

void setup();
void loop();

#endif
