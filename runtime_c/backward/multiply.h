/* backward/multiply.h: the gradient of multiply.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = ((x0 * x1) * x2) * ...: input i gets grad_out times the other factors, multiplied in the order
 * TensorFlow's gradients of the fold give: from the last input back, g * (x0 * ... * x(i-1)),
 * then g = g * x(i), and x0 gets what is left.
 */
#ifndef KERASLESS_KERNEL_MULTIPLY_BACKWARD
#define KERASLESS_KERNEL_MULTIPLY_BACKWARD

static inline void kl_multiply_backward(float *const grads_in[],     /* count pointers, each (size,), added to */
                                        const float *grad_out,       /* (size,) */
                                        const float *const inputs[], /* count pointers, each (size,): the forward inputs */
                                        int count, int size)
{
    for (int k = 0; k < size; k++) {
        float g = grad_out[k];
        for (int i = count - 1; i > 0; i--) {
            float prefix = inputs[0][k]; /* x0 * ... * x(i-1), as the forward fold rounds it */
            for (int j = 1; j < i; j++) {
                prefix = prefix * inputs[j][k];
            }
            grads_in[i][k] += g * prefix;
            g = g * inputs[i][k];
        }
        grads_in[0][k] += g;
    }
}

#endif /* KERASLESS_KERNEL_MULTIPLY_BACKWARD */
