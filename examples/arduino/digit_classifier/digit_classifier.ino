/* digit_classifier.ino: classify a handwritten 8x8 digit on an Arduino Uno (ATmega328P) with the
 * int8-weights digits header (docs/embedded.md, "The Arduino sketch").
 *
 * Make the header next to this file, then build and upload with the Arduino IDE or arduino-cli:
 *     export-model examples/digits.keras -o examples/arduino/digit_classifier/digits.h --name digits --weights int8
 * The serial monitor (9600 baud) shows the selftest's result and the digit with its probability.
 */
#include <Arduino.h>

#include "digits.h"

/* A held-back digit (examples/digits_holdout.csv, first row: a 6), pixels in [0, 1]; in flash. */
static const float six[digits_INPUT_SIZE] PROGMEM = {
    0.0f, 0.0f, 0.0625f, 0.8125f, 0.4375f, 0.0f,    0.0f,    0.0f,
    0.0f, 0.0f, 0.4375f, 0.875f,  0.125f,  0.0f,    0.0f,    0.0f,
    0.0f, 0.0f, 0.8125f, 0.3125f, 0.0f,    0.0f,    0.0f,    0.0f,
    0.0f, 0.0f, 1.0f,    0.1875f, 0.0f,    0.0f,    0.0f,    0.0f,
    0.0f, 0.1875f, 1.0f, 0.625f,  0.75f,   0.75f,   0.1875f, 0.0f,
    0.0f, 0.1875f, 1.0f, 0.6875f, 0.3125f, 0.5625f, 0.75f,   0.0f,
    0.0f, 0.0625f, 0.8125f, 0.6875f, 0.25f, 0.8125f, 0.6875f, 0.0f,
    0.0f, 0.0f, 0.0625f, 0.75f,   1.0f,    0.6875f, 0.125f,  0.0f,
};

void setup()
{
    Serial.begin(9600);
    float worst = 0.0f;
    const int failures = digits_selftest(&worst); /* the header checks itself on its test vectors */
    Serial.print("selftest failures: ");
    Serial.println(failures);

    float pixels[digits_INPUT_SIZE];
    for (int k = 0; k < digits_INPUT_SIZE; k++) {
        pixels[k] = pgm_read_float(six + k);
    }
    float probabilities[digits_OUTPUT_SIZE];
    digits_predict(pixels, probabilities);
    int best = 0;
    for (int k = 1; k < digits_OUTPUT_SIZE; k++) {
        if (probabilities[k] > probabilities[best]) {
            best = k;
        }
    }
    Serial.print("digit: ");
    Serial.println(best);
    Serial.print("probability (percent): ");
    Serial.println((int)(100.0f * probabilities[best] + 0.5f));
}

void loop()
{
}
