/* average.h: Keras's Average layer, y = (((x0 + x1) + x2) + ...) / count: the sum folded left to right,
 * then one division, as Keras computes it.
 *
 * The fold runs value by value: every input's value k is read before out[k] is written, so out
 * may be any one of the inputs (the generated code reuses a dying input's buffer).
 */
#ifndef KERASLESS_KERNEL_AVERAGE
#define KERASLESS_KERNEL_AVERAGE

static inline void kl_average_forward(float *out,                  /* (size,) */
                                      const float *const inputs[], /* count pointers, each (size,); count >= 2 */
                                      int count, int size)
{
    for (int k = 0; k < size; k++) {
        float acc = inputs[0][k];
        for (int i = 1; i < count; i++) {
            acc = acc + inputs[i][k];
        }
        out[k] = acc / (float)count;
    }
}

#endif /* KERASLESS_KERNEL_AVERAGE */
