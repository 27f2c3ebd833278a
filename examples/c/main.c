/* Classify the held-back digits with the generated header: plain C99, no library but libm.
 *
 *   export-model ../digits.h5 -o build/digits.h --name digits
 *   cc -std=c99 -O2 -Ibuild main.c -o digits_c -lm
 *   ./digits_c ../digits_holdout.csv            (add --probs to print every probability)
 *
 * The CSV has a header line, then one digit per line: its label and 64 pixel values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"

/* Read one CSV line: the label, then digits_INPUT_SIZE values. Return 1 on success, 0 at the end. */
static int read_digit(FILE *csv, int *label, float pixels[digits_INPUT_SIZE])
{
    if (fscanf(csv, "%d", label) != 1) {
        return 0;
    }
    for (int k = 0; k < digits_INPUT_SIZE; k++) {
        if (fscanf(csv, " ,%f", &pixels[k]) != 1) {
            fprintf(stderr, "error: line with label %d has fewer than %d values\n", *label, digits_INPUT_SIZE);
            exit(2);
        }
    }
    return 1;
}

static int argmax(const float *values, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++) {
        if (values[k] > values[best]) {
            best = k;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "../digits_holdout.csv";
    const int print_probs = argc > 2 && strcmp(argv[2], "--probs") == 0;
    float max_err = 0.0f;
    const int failures = digits_selftest(&max_err);
    if (!print_probs) {
        printf("digits_selftest: %s (max |C - Keras| %.3g on %d embedded rows)\n",
               failures == 0 ? "ok" : "FAILED", (double)max_err, digits_TEST_ROWS);
    }

    FILE *csv = fopen(path, "r");
    if (csv == NULL) {
        perror(path);
        return 2;
    }
    int c;
    while ((c = fgetc(csv)) != '\n' && c != EOF) { /* skip the header line */
    }

    float pixels[digits_INPUT_SIZE];  /* (8, 8), row-major */
    float probs[digits_OUTPUT_SIZE];  /* (10,) */
    int label, total = 0, correct = 0;
    if (!print_probs) {
        printf("  label  C predicts  p\n");
    }
    while (read_digit(csv, &label, pixels)) {
        digits_predict(pixels, probs);
        const int guess = argmax(probs, digits_OUTPUT_SIZE);
        correct += guess == label;
        if (print_probs) {
            for (int k = 0; k < digits_OUTPUT_SIZE; k++) {
                printf("%.9g%c", (double)probs[k], k + 1 < digits_OUTPUT_SIZE ? ',' : '\n');
            }
        } else if (total < 10) {
            printf("  %5d  %10d  %.7f\n", label, guess, (double)probs[guess]);
        }
        total++;
    }
    fclose(csv);
    if (!print_probs) {
        printf("  ...\nC accuracy %d/%d\n", correct, total);
    }
    return failures != 0;
}
