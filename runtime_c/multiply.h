/* multiply.h: Keras's Multiply layer, y = ((x0 * x1) * x2) * ... folded left to right as Keras does.
 *
 * The fold runs value by value: every input's value k is read before out[k] is written, so out
 * may be any one of the inputs (the generated code reuses a dying input's buffer).
 */
#ifndef KERASLESS_KERNEL_MULTIPLY
#define KERASLESS_KERNEL_MULTIPLY

static inline void kl_multiply_forward(float *out,                  /* (size,) */
                                       const float *const inputs[], /* count pointers, each (size,); count >= 2 */
                                       int count, int size)
{
    for (int k = 0; k < size; k++) {
        float acc = inputs[0][k];
        for (int i = 1; i < count; i++) {
            acc = acc * inputs[i][k];
        }
        out[k] = acc;
    }
}

#endif /* KERASLESS_KERNEL_MULTIPLY */
