/* backward/minimum.h: the gradient of minimum.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = min(min(x0, x1), x2) ...: each value's gradient goes to the input that won the fold,
 * a tie to the fold so far (TensorFlow's <=); a NaN so far loses (NaN <= x is false).
 */
#ifndef KERASLESS_KERNEL_MINIMUM_BACKWARD
#define KERASLESS_KERNEL_MINIMUM_BACKWARD

static inline void kl_minimum_backward(float *const grads_in[],     /* count pointers, each (size,), added to */
                                       const float *grad_out,       /* (size,) */
                                       const float *const inputs[], /* count pointers, each (size,): the forward inputs */
                                       int count, int size)
{
    for (int k = 0; k < size; k++) {
        float g = grad_out[k];
        for (int i = count - 1; i > 0; i--) {
            float best = inputs[0][k]; /* the fold over x0 .. x(i-1), NaN kept as the forward pass keeps it */
            for (int j = 1; j < i; j++) {
                const float x = inputs[j][k];
                best = (best < x || best != best) ? best : x;
            }
            if (!(best <= inputs[i][k])) {
                grads_in[i][k] += g;
                g = 0.0f;
            }
        }
        grads_in[0][k] += g;
    }
}

#endif /* KERASLESS_KERNEL_MINIMUM_BACKWARD */
