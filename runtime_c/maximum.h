/* maximum.h: Keras's Maximum layer, y = max(max(x0, x1), x2) ... folded left to right.
 *
 * As TensorFlow's Maximum: a NaN on either side wins, and on a tie (0 and -0) the left value stays.
 *
 * The fold runs value by value: every input's value k is read before out[k] is written, so out
 * may be any one of the inputs (the generated code reuses a dying input's buffer).
 */
#ifndef KERASLESS_KERNEL_MAXIMUM
#define KERASLESS_KERNEL_MAXIMUM

static inline void kl_maximum_forward(float *out,                  /* (size,) */
                                      const float *const inputs[], /* count pointers, each (size,); count >= 2 */
                                      int count, int size)
{
    for (int k = 0; k < size; k++) {
        float acc = inputs[0][k];
        for (int i = 1; i < count; i++) {
            const float x = inputs[i][k];
            if (acc == acc && (x != x || acc < x)) { /* acc != acc only for NaN, which stays */
                acc = x;
            }
        }
        out[k] = acc;
    }
}

#endif /* KERASLESS_KERNEL_MAXIMUM */
