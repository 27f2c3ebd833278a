/* The shim's main(): setup(), one loop(), then sleep with interrupts off (simavr quits). */
#include <avr/interrupt.h>
#include <avr/sleep.h>

#include "Arduino.h"

ShimSerial Serial;

int main()
{
    setup();
    loop();
    cli();
    sleep_enable();
    sleep_cpu();
    for (;;) {
    }
}
