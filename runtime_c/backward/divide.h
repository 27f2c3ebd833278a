/* backward/divide.h: the gradient of divide.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * TensorFlow's RealDiv gradient: a gets g / b, b gets g * ((-a / b) / b), with a and b read as the
 * forward pass read them (subnormals as zeros).
 */
#ifndef KERASLESS_KERNEL_DIVIDE_BACKWARD
#define KERASLESS_KERNEL_DIVIDE_BACKWARD

#include <float.h>

static inline void kl_divide_backward(float *grad_a,         /* (size,): added to */
                                      float *grad_b,         /* (size,): added to */
                                      const float *grad_out, /* (size,) */
                                      const float *a,        /* (size,): the forward dividend */
                                      const float *b,        /* (size,): the forward divisor */
                                      int size)
{
    for (int k = 0; k < size; k++) {
        const float x = (a[k] > -FLT_MIN && a[k] < FLT_MIN) ? a[k] * 0.0f : a[k];
        const float y = (b[k] > -FLT_MIN && b[k] < FLT_MIN) ? b[k] * 0.0f : b[k];
        const float g = grad_out[k];
        const float quotient = (-x / y) / y;
        grad_a[k] += g / y;
        grad_b[k] += g * quotient;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE_BACKWARD */
