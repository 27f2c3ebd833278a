/* glu.h: gated linear unit over the last axis. Each row of n input values (n even) is split in
 * halves a = x[0 .. n/2) and b = x[n/2 .. n); the row's n/2 outputs are a * sigmoid(b), with the
 * sigmoid of sigmoid.h. A subnormal gate counts as 0, as under TensorFlow's flush-to-zero (so
 * -inf * sigmoid(-100) is NaN, as in Keras). The output has half as many values as the input:
 * n is the INPUT's last axis. out == inp is allowed (output value j of row r is written after
 * every input it needs, since r*n/2 + j <= r*n + j).
 */
#ifndef KERASLESS_KERNEL_GLU
#define KERASLESS_KERNEL_GLU

#include <float.h>
#include <math.h>
#include <stddef.h>

static inline void kl_glu_forward(float *out,       /* (rows, n / 2) */
                                  const float *inp, /* (rows, n) */
                                  int rows, int n)
{
    const int half = n / 2;
    for (int r = 0; r < rows; r++) {
        const float *a = inp + (size_t)r * (size_t)n; /* (half,) */
        const float *b = a + half;                    /* (half,) */
        float *y = out + (size_t)r * (size_t)half;    /* (half,) */
        for (int j = 0; j < half; j++) {
            const float g = b[j];
            float s;
            if (g >= 0.0f) {
                s = 1.0f / (1.0f + expf(-g));
            } else {
                const float e = expf(g); /* g < 0 or NaN: e <= 1 */
                s = e / (1.0f + e);
            }
            if (s < FLT_MIN) { /* TF flushes subnormals to 0: -inf * sigmoid(-100) is NaN there */
                s = 0.0f;
            }
            y[j] = a[j] * s;
        }
    }
}

#endif /* KERASLESS_KERNEL_GLU */
